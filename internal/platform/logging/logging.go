// Package logging sets up log/slog: JSON lines on one writer, with the
// request ID (and whatever else the caller asks for) taken from the context of
// every ...Context call.
package logging

import (
	"context"
	"io"
	"log/slog"
)

type requestIDKey struct{}

// WithRequestID returns a context carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ContextAttrs extracts log attributes from a context, e.g. the signed-in
// user's ID. main supplies it so this package needs no domain imports.
type ContextAttrs func(ctx context.Context) []slog.Attr

// New returns a JSON logger writing to w at level. Records logged with a
// context get its request_id and the attributes of every extra function.
func New(w io.Writer, level slog.Leveler, extra ...ContextAttrs) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(&contextHandler{Handler: h, extra: extra})
}

// Discard returns a logger that drops everything, for tests and benchmarks.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type contextHandler struct {
	slog.Handler
	extra []ContextAttrs
}

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	for _, f := range h.extra {
		r.AddAttrs(f(ctx)...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithAttrs(attrs), extra: h.extra}
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithGroup(name), extra: h.extra}
}
