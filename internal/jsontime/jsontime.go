// Package jsontime renders times in JSON the way Better Auth does
// (JavaScript's Date.toISOString): the JSON API and the webhook events
// share it so apps parse one format.
package jsontime

import "time"

// Time marshals as "2006-01-02T15:04:05.000Z" in UTC.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}
