package ehpc

import (
	"math/rand/v2"
	"time"
)

func defaultJitter() float64 { return rand.Float64() } //nolint:gosec // jitter needs spread, not secrecy.

// backoff returns how long to wait before attempt+1: exponential from the base delay,
// capped, with "equal jitter" (half fixed, half random) so many clients that failed
// together do not retry together, while each still waits a useful minimum. A
// Retry-After from the server wins when it asks for longer.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := c.cfg.RetryBaseDelay
	for i := 1; i < attempt && d < c.cfg.RetryMaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMaxDelay)
	d = d/2 + time.Duration(c.cfg.Jitter()*float64(d/2))
	return max(d, retryAfter)
}
