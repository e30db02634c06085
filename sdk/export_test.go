package sdk

// UserLockKey exposes the key of a user id's PostgreSQL advisory lock, so
// that tests can hold it and make a write wait at a chosen moment.
func UserLockKey(id string) (int32, int32) { return userLockKey(id) }
