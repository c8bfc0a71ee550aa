package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestCancelledRequestsDoNotFailOthers cancels queries mid-flight, as a
// client that hangs up does (PostgreSQL then closes that connection), while
// other callers use the same statements: none of them may fail. GORM's
// prepared-statement cache used to close a statement shared by every
// connection when one connection went bad ("sql: statement is closed").
func TestCancelledRequestsDoNotFailOthers(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		var n atomic.Int64
		deadline := time.Now().Add(time.Second)
		var wg sync.WaitGroup
		var failures atomic.Int64
		for range 8 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					sig := fmt.Sprint(n.Add(1))
					if err := s.CreateToken(ctx, benchToken(sig)); err != nil {
						if failures.Add(1) <= 3 {
							t.Errorf("create token: %v", err)
						}
						continue
					}
					if _, err := s.GetToken(ctx, storage.TokenAccess, sig); err != nil {
						if failures.Add(1) <= 3 {
							t.Errorf("get token: %v", err)
						}
					}
				}
			})
		}
		for range 4 {
			wg.Go(func() {
				for i := 0; time.Now().Before(deadline); i++ {
					cctx, cancel := context.WithTimeout(ctx, time.Duration(50+i%400)*time.Microsecond)
					sig := fmt.Sprint(n.Add(1))
					_ = s.CreateToken(cctx, benchToken(sig))
					_, _ = s.GetToken(cctx, storage.TokenAccess, sig)
					cancel()
				}
			})
		}
		wg.Wait()
		if f := failures.Load(); f > 0 {
			t.Errorf("%d operations without cancellation failed", f)
		}
	})
}
