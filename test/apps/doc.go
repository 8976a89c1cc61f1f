// Package apps runs real daemons from Debian's packages (nginx, redis-server,
// PostgreSQL 15; installed by hack/setup.sh) under footprint's command line,
// as a user would: each is recorded through its lifecycle (first start, real
// traffic over loopback, reload, log rotation, restart on its own data,
// shutdown) into one profile with `footprint record --append`, then held to
// the policy exported from that profile with `footprint enforce`. Identical
// and varied reruns must show no violation; a misbehaviour under the same
// policy must still be stopped and reported.
//
// The daemons run their packaged binaries with configuration, data, logs
// and sockets in a temporary directory of their own, as the users the
// packages created; nothing of the host's /etc/nginx, /etc/redis or
// /etc/postgresql is read, and no system service is started.
package apps
