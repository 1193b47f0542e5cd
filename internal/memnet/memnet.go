// Package memnet is an in-memory network for HTTP between a client and a
// server in one process: every connection is a net.Pipe. Tests that run the
// provider's client against the simulator inside a testing/synctest bubble
// need it, because a goroutine blocked on a real socket is never idle to
// synctest, so fake time could not advance past a request in flight; one
// blocked on a pipe is.
package memnet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// Network accepts the connections its Dial makes. It is both the server's
// listener and the client's dialer.
type Network struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

var _ net.Listener = (*Network)(nil)

// New returns an open network.
func New() *Network {
	return &Network{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// ErrClosed is what Dial and Accept return once the network is closed.
var ErrClosed = errors.New("memnet: network closed")

// Accept waits for the next connection a client dials.
func (n *Network) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.closed:
		return nil, ErrClosed
	}
}

// Close stops accepting; connections already made stay open until closed.
func (n *Network) Close() error {
	n.once.Do(func() { close(n.closed) })
	return nil
}

// Addr is the listener's address; every Dial reaches it, whatever address is
// dialed.
func (n *Network) Addr() net.Addr { return addr{} }

// Dial connects to the server, for http.Transport.DialContext. It refuses once
// the network is closed, as a server that is down refuses connections: no byte
// of a request was written.
func (n *Network) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.closed:
		return nil, &net.OpError{Op: "dial", Net: "memnet", Err: ErrClosed}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Client is an HTTP client whose every request goes over this network, with
// the redirect policy of the provider's own client (a redirect is an answer,
// never followed).
func (n *Network) Client() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DialContext: n.Dial, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type addr struct{}

func (addr) Network() string { return "memnet" }
func (addr) String() string  { return "memnet:80" }
