package password

import "syscall"

// hashNice is the nice value of hashing threads. At 10 a hashing thread gets
// about a tenth of the CPU share of a normal thread when both want to run, so
// session checks keep their latency during a sign-in flood, yet hashing is
// never starved outright.
const hashNice = 10

// lowerPriority lowers the calling OS thread's scheduling priority. On Linux
// setpriority(PRIO_PROCESS, tid) applies to one thread. Failure (e.g. a
// sandbox forbidding it) only costs latency isolation, so it is ignored.
func lowerPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), hashNice)
}
