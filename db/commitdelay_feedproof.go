//go:build feedproof

package db

import (
	"math/rand/v2"
	"os"
	"time"
)

// EnvCommitDelay, in a binary built with -tags feedproof, makes every client
// write sleep twice for a random time below its value (a Go duration): once
// inside its transaction before its event takes a seq, so that transactions
// reach the event counter in another order than they began, and once after,
// between the seq and the COMMIT, the window in which a design without the
// counter row's lock (a SEQUENCE, say) would commit out of seq order and let
// a follower skip an event. The test TestFeedNeverMissesAnEventAcrossProcesses
// builds such a binary; it is not a setting of the released one.
const EnvCommitDelay = "CLIENTELE_FEEDPROOF_COMMIT_DELAY"

var maxCommitDelay, _ = time.ParseDuration(os.Getenv(EnvCommitDelay))

func commitDelay() {
	if maxCommitDelay > 0 {
		time.Sleep(rand.N(maxCommitDelay))
	}
}
