package ehpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The API reference writes its examples loosely, and numbers, lists and times can
// reasonably arrive in more than one JSON form. These types accept every form an
// implementation of API.md could plausibly send, so a cosmetic difference never
// turns a successful restart into a decoding error.

// flexInt accepts 5, 5.0 and "5".
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			*f = 0
			return nil
		}
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// Not json.UnmarshalTypeError: its Error method needs a Type, and a
		// zero one panics (found by FuzzDecodeResponse).
		return fmt.Errorf("%.40q is not a number", b)
	}
	*f = flexInt(x)
	return nil
}

// FlexString accepts a string, a number, a bool, null, or a list of those (joined
// with spaces).
type FlexString string

func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	case len(b) > 0 && b[0] == '[':
		var parts []FlexString
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		strs := make([]string, 0, len(parts))
		for _, p := range parts {
			if p != "" {
				strs = append(strs, string(p))
			}
		}
		*f = FlexString(strings.Join(strs, " "))
	case len(b) > 0 && b[0] == '{':
		*f = FlexString(b)
	default:
		*f = FlexString(b)
	}
	return nil
}

// IDList accepts the operation log's space-separated resource_ids ("ehpc-x cln-y"),
// a comma-separated string, or a JSON list.
type IDList []string

func (l *IDList) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*l = strings.FieldsFunc(string(s), func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	return nil
}

// Time accepts the API's UTC timestamps and a few neighbouring layouts; a value it
// cannot read becomes the zero time, with the text kept in Raw.
type Time struct {
	time.Time
	Raw string
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00",
}

func (t *Time) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t.Raw = string(s)
	t.Time = parseTime(t.Raw)
	return nil
}

// parseTime reads a timestamp in any layout the API may use; zero when it cannot.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil && secs > 0 {
		return time.Unix(secs, 0).UTC()
	}
	return time.Time{}
}

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return json.Marshal(t.Raw)
	}
	return json.Marshal(t.UTC().Format(timestampLayout))
}

// listTotal is a listing's total under either name the reference uses: the action
// pages say total_count, the general request page says total_sum. An answer may
// also carry neither.
type listTotal struct {
	TotalCount *flexInt `json:"total_count"`
	TotalSum   *flexInt `json:"total_sum"`
}

// total returns the listing's total and whether the answer gave one.
func (t listTotal) total() (int, bool) {
	switch {
	case t.TotalCount != nil:
		return int(*t.TotalCount), true
	case t.TotalSum != nil:
		return int(*t.TotalSum), true
	}
	return 0, false
}

// listing is an answer that must carry its list to be read: the operation
// log's job_set, listNodes' hpc_app_nodes_set.
type listing interface {
	listed() bool
	listField() string
}
