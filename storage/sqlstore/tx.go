package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/storage"
)

// txKey keys the transaction in a context. It holds the store so that a
// context from one Store never leaks its transaction into another.
type txKey struct{ s *Store }

// txState is one database transaction shared by its owner and any joiners.
type txState struct {
	tx           *gorm.DB
	done         bool
	rollbackOnly bool
	// release gives up the SQLite write gate when the transaction ends.
	release func()
}

// end marks the transaction finished; the caller runs the returned
// function, which releases the write gate, after COMMIT or ROLLBACK.
func (st *txState) end() (release func()) {
	st.done = true
	return st.release
}

// txFrame is what a context carries: the transaction and whether this
// BeginTx call started it (and so must end it).
type txFrame struct {
	state *txState
	owner bool
}

var errRollbackOnly = errors.New("a joined caller rolled the transaction back")

func (s *Store) frame(ctx context.Context) *txFrame {
	f, _ := ctx.Value(txKey{s}).(*txFrame)
	return f
}

// db returns the handle to use for ctx: its transaction when it carries one,
// the pool otherwise.
func (s *Store) db(ctx context.Context) *gorm.DB {
	if f := s.frame(ctx); f != nil {
		return f.state.tx.WithContext(ctx)
	}
	return s.gdb.WithContext(ctx)
}

// inTx reports whether ctx carries a transaction of this store.
func (s *Store) inTx(ctx context.Context) bool { return s.frame(ctx) != nil }

// BeginTx starts a transaction and returns a context carrying it. If ctx
// already carries one, the returned context joins it: Commit on it is a
// no-op and Rollback marks the outer transaction to roll back.
//
// On SQLite a transaction takes the database write lock at BEGIN
// (BEGIN IMMEDIATE), so transactions serialise.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if f := s.frame(ctx); f != nil {
		return context.WithValue(ctx, txKey{s}, &txFrame{state: f.state}), nil
	}
	release := func() {}
	if s.gate != nil {
		r, err := s.acquireGate(ctx)
		if err != nil {
			return ctx, wrap("begin transaction", err)
		}
		// database/sql rolls the transaction back when ctx ends; give the
		// gate back then too, so an abandoned transaction cannot wedge
		// every later writer.
		once := sync.OnceFunc(r)
		stop := context.AfterFunc(ctx, once)
		release = func() { stop(); once() }
	}
	tx := s.gdb.WithContext(ctx).Begin()
	if tx.Error != nil {
		release()
		return ctx, wrap("begin transaction", tx.Error)
	}
	st := &txState{tx: tx, release: release}
	return context.WithValue(ctx, txKey{s}, &txFrame{state: st, owner: true}), nil
}

// Commit commits the transaction ctx carries. For a joined context it does
// nothing; the owner commits.
func (s *Store) Commit(ctx context.Context) error {
	f := s.frame(ctx)
	if f == nil {
		return errors.New("commit transaction: no transaction in context")
	}
	if !f.owner {
		return nil
	}
	if f.state.done {
		return errors.New("commit transaction: transaction already finished")
	}
	defer f.state.end()()
	if f.state.rollbackOnly {
		if err := f.state.tx.Rollback().Error; err != nil {
			return wrap("commit transaction", err)
		}
		return fmt.Errorf("commit transaction: %w", errRollbackOnly)
	}
	return wrap("commit transaction", f.state.tx.Commit().Error)
}

// Rollback aborts the transaction ctx carries. After Commit it does nothing,
// so it can be deferred. For a joined context it marks the transaction so
// that the owner's Commit rolls back.
func (s *Store) Rollback(ctx context.Context) error {
	f := s.frame(ctx)
	if f == nil {
		return errors.New("roll back transaction: no transaction in context")
	}
	if !f.owner {
		f.state.rollbackOnly = true
		return nil
	}
	if f.state.done {
		return nil
	}
	defer f.state.end()()
	return wrap("roll back transaction", f.state.tx.Rollback().Error)
}

// InTx runs fn in a transaction: it commits when fn returns nil and rolls
// back when fn returns an error or panics. Inside an existing transaction fn
// joins it, and an error from fn is returned for the outer caller to handle.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.inTx(ctx) {
		return fn(ctx)
	}
	txCtx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		// fn panicked or called runtime.Goexit (t.FailNow): do not leave
		// the transaction, and on SQLite the write lock, behind.
		if !finished {
			_ = s.Rollback(txCtx)
		}
	}()
	if err := fn(txCtx); err != nil {
		finished = true
		if rbErr := s.Rollback(txCtx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	finished = true
	return s.Commit(txCtx)
}

// writeLock serialises this process's writers on SQLite, where the database
// has one write lock: queueing on a channel is fair and wakes at once, while
// SQLite's busy handler polls with sleeps of up to 100 ms. It is a no-op on
// PostgreSQL and inside a transaction (BeginTx already holds it). Waiting
// longer than the busy timeout gives ErrConflict, as SQLITE_BUSY would.
func (s *Store) writeLock(ctx context.Context) (release func(), err error) {
	if s.gate == nil || s.inTx(ctx) {
		return func() {}, nil
	}
	return s.acquireGate(ctx)
}

func (s *Store) acquireGate(ctx context.Context) (func(), error) {
	release := func() { <-s.gate }
	select {
	case s.gate <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(sqliteBusyTimeoutMS * time.Millisecond)
	defer timer.Stop()
	select {
	case s.gate <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, fmt.Errorf("%w: timed out waiting for the write lock", storage.ErrConflict)
	}
}
