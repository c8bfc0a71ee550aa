package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// connCacheTTL is how long a stored connection is reused by the login
// pages, like the provider's clients (provider.DefaultClientCacheTTL) and
// the opened connectors (which are reused for longer): a login reads its
// connection on every request, and connections change rarely.
const connCacheTTL = 5 * time.Second

// connCache keeps stored connections by ID and by name for connCacheTTL.
type connCache struct {
	store storage.ConnectionStore
	now   func() time.Time

	mu     sync.Mutex
	byID   map[string]cachedConn
	byName map[string]cachedConn
}

type cachedConn struct {
	c       storage.Connection
	expires time.Time
}

// connCacheMax bounds each map; it is cleared when full.
const connCacheMax = 1000

func newConnCache(store storage.ConnectionStore) *connCache {
	return &connCache{store: store, now: time.Now, byID: map[string]cachedConn{}, byName: map[string]cachedConn{}}
}

func (cc *connCache) get(ctx context.Context, key string, byName bool) (storage.Connection, error) {
	now := cc.now()
	cc.mu.Lock()
	m := cc.byID
	if byName {
		m = cc.byName
	}
	e, ok := m[key]
	cc.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	var c storage.Connection
	var err error
	if byName {
		c, err = cc.store.GetConnectionByName(ctx, key)
	} else {
		c, err = cc.store.GetConnection(ctx, key)
	}
	if err != nil {
		return storage.Connection{}, err
	}
	cc.mu.Lock()
	if len(cc.byID) >= connCacheMax || len(cc.byName) >= connCacheMax {
		clear(cc.byID)
		clear(cc.byName)
	}
	e = cachedConn{c: c, expires: now.Add(connCacheTTL)}
	cc.byID[c.ID], cc.byName[c.Name] = e, e
	cc.mu.Unlock()
	return c, nil
}

// connection returns the stored connection with this ID (cached).
func (h *Handler) connection(ctx context.Context, id string) (storage.Connection, error) {
	return h.conns.get(ctx, id, false)
}

// connectionByName returns the stored connection with this name (cached).
func (h *Handler) connectionByName(ctx context.Context, name string) (storage.Connection, error) {
	return h.conns.get(ctx, name, true)
}
