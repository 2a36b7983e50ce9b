package dispatch

import (
	"context"
	"fmt"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

// Policies lists every policy by name.
func (s *Service) Policies(ctx context.Context) ([]unify.Policy, error) {
	return s.store.Policies(ctx)
}

// GetPolicy reads one policy; a not_found *unify.Error when unknown.
func (s *Service) GetPolicy(ctx context.Context, name string) (unify.Policy, error) {
	return s.store.Policy(ctx, name)
}

// SavePolicy validates and stores a policy edited by an operator. Problems
// come back as an invalid *unify.Error with field paths ("steps[1].timeout");
// creating a policy whose name exists is a conflict.
func (s *Service) SavePolicy(ctx context.Context, p unify.Policy, isNew bool) error {
	if fields := p.Validate(""); len(fields) > 0 {
		return unify.Invalid(fields...)
	}
	if p.OnRevokeFailure == "" {
		p.OnRevokeFailure = unify.RevokeSuppress
	}
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		if isNew {
			if _, err := s.store.Policy(ctx, p.Name); err == nil {
				return &unify.Error{Code: unify.CodeConflict, Message: fmt.Sprintf("a policy named %q exists", p.Name),
					Fields: []unify.FieldError{{Field: "name", Message: "is taken"}}}
			}
		}
		return tx.UpsertPolicy(p, s.now())
	})
	if err == nil {
		s.ForgetPolicies()
	}
	return err
}

// DeletePolicy removes a policy unless a sender uses it as its default.
func (s *Service) DeletePolicy(ctx context.Context, name string) error {
	for _, sd := range s.cfg.Senders {
		if sd.DefaultPolicy == name || sd.DefaultPolicy == "" && name == "default" {
			return &unify.Error{Code: unify.CodeConflict, Message: fmt.Sprintf("used as default by sender %s", sd.Name)}
		}
	}
	if _, err := s.store.Policy(ctx, name); err != nil {
		return err
	}
	err := s.store.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.DeletePolicy(name) })
	if err == nil {
		s.ForgetPolicies()
	}
	return err
}
