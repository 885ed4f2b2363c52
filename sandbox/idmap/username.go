package idmap

import (
	"errors"
	"os/user"
	"strconv"
	"sync"
)

// UserName is the account name of uid (for matching /etc/subuid lines,
// which may name the owner either way), or its decimal form when it has
// none. The answer (a name, or that there is none; not a failed lookup) is
// remembered while /etc/passwd keeps its inode, size and modification
// time: one nook command asks several times, and each os/user lookup reads
// the whole file.
func UserName(uid int) string {
	stamp, cacheable := stampOf("/etc/passwd")
	key := userKey{uid, stamp}
	if cacheable {
		userNames.Lock()
		name, ok := userNames.m[key]
		userNames.Unlock()
		if ok {
			return name
		}
	}
	name := strconv.Itoa(uid)
	u, err := user.LookupId(name)
	if err == nil {
		name = u.Username
	}
	var unknown user.UnknownUserIdError
	if cacheable && (err == nil || errors.As(err, &unknown)) {
		userNames.Lock()
		if userNames.m == nil || len(userNames.m) >= 64 {
			userNames.m = map[userKey]string{}
		}
		userNames.m[key] = name
		userNames.Unlock()
	}
	return name
}

var userNames struct {
	sync.Mutex
	m map[userKey]string
}

type userKey struct {
	uid   int
	stamp fileStamp
}
