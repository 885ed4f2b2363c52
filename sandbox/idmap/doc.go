// Package idmap computes and installs the uid and gid maps of a new user
// namespace for nook's rootless sandbox.
//
// A process that creates a user namespace without privilege may only map
// its own uid and gid, one id each. Everything wider (a fake root with a
// real range of ids under it, so that package managers and chown work)
// needs the subordinate ids that /etc/subuid and /etc/subgid grant the
// user, and the setuid helpers newuidmap and newgidmap from shadow-utils,
// which check the request against those files before writing the maps.
//
// The flow is:
//
//	mode, _ := idmap.ParseMode("subids-root")
//	subU, _ := idmap.LookupSubIDs(idmap.SubUIDPath, user, uid)
//	subG, _ := idmap.LookupSubIDs(idmap.SubGIDPath, user, gid)
//	um, gm, err := idmap.Plan(mode, uid, gid, subU, subG)
//	helper := idmap.NeedsHelper(um, uid, root) || idmap.NeedsHelper(gm, gid, root)
//	// start the child with CLONE_NEWUSER and no mappings, blocked on a pipe
//	err = idmap.Write(child.Pid, um, gm, helper)
//	// release the child
//
// Plan never returns maps that overlap on either side, that exceed the
// kernel's line limit, or that the kernel would refuse for size; the same
// checks are available as Validate.
package idmap
