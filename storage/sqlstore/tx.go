package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// txKey keys the transaction in a context. It holds the store so that a
// context from one Store never leaks its transaction into another.
type txKey struct{ s *Store }

// txState is one database transaction shared by its owner and any joiners.
type txState struct {
	tx           *gorm.DB
	done         bool
	rollbackOnly bool
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
	tx := s.gdb.WithContext(ctx).Begin()
	if tx.Error != nil {
		return ctx, wrap("begin transaction", tx.Error)
	}
	return context.WithValue(ctx, txKey{s}, &txFrame{state: &txState{tx: tx}, owner: true}), nil
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
	f.state.done = true
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
	f.state.done = true
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
