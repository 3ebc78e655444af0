package devimage

// The PATH of every dev image; postgres puts its server's bin dir first,
// as the official image does.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var postgresRecipe = Recipe{
	Name:        "postgres",
	Ref:         "wild.local/postgres:15",
	Replaces:    "postgres",
	Packages:    []string{"postgresql-15", "tzdata"},
	Users:       []string{"postgres:999"},
	RuntimeDirs: []string{"/run/postgresql"},
	Config: Config{
		Entrypoint:   []string{"/usr/local/bin/entrypoint"},
		Env:          []string{"PATH=/usr/lib/postgresql/15/bin:" + basePath, "LANG=C.UTF-8", "PGDATA=/var/lib/postgresql/data"},
		ExposedPorts: []string{"5432/tcp"},
		Volumes:      []string{"/var/lib/postgresql/data"},
	},
	// The official postgres image's contract: POSTGRES_PASSWORD (required
	// unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER, POSTGRES_DB,
	// POSTGRES_INITDB_ARGS, PGDATA, PGPORT, /docker-entrypoint-initdb.d.
	Entrypoint: `#!/bin/bash
set -euo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chown -R postgres:postgres "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
user="${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
		echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
		exit 1
	fi
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA"
	pw=$(mktemp)
	printf '%s' "${POSTGRES_PASSWORD:-}" > "$pw"
	initdb -D "$PGDATA" --username="$user" --pwfile="$pw" --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pw"
	printf 'host all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
	db="${POSTGRES_DB:-$user}"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses= -c unix_socket_directories=/tmp" -w start
	if [ "$db" != postgres ]; then
		psql -v ON_ERROR_STOP=1 -h /tmp -U "$user" -d postgres -c "CREATE DATABASE \"${db//\"/\"\"}\""
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sql) psql -v ON_ERROR_STOP=1 -h /tmp -U "$user" -d "$db" -f "$f" ;;
		*.sh) . "$f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
fi
# The socket goes where UID 999 may write whatever the image's /run holds;
# clients in the pod use TCP (pg_isready -h 127.0.0.1) or PGHOST=/tmp.
exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
`,
}

var mariadbRecipe = Recipe{
	Name:        "mariadb",
	Ref:         "wild.local/mariadb:10.11",
	Replaces:    "mysql",
	Packages:    []string{"mariadb-server", "mariadb-client", "tzdata"},
	Users:       []string{"mysql:999"},
	RuntimeDirs: []string{"/run/mysqld"},
	Remove:      []string{"/var/lib/mysql/*"},
	Config: Config{
		Entrypoint:   []string{"/usr/local/bin/entrypoint"},
		Env:          []string{"PATH=" + basePath, "LANG=C.UTF-8"},
		ExposedPorts: []string{"3306/tcp"},
		Volumes:      []string{"/var/lib/mysql"},
	},
	// The official mariadb (and mysql) image's contract:
	// MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD (required unless
	// MARIADB_ALLOW_EMPTY_ROOT_PASSWORD), MARIADB_DATABASE or
	// MYSQL_DATABASE, MARIADB_USER/MYSQL_USER with MARIADB_PASSWORD/
	// MYSQL_PASSWORD. Arguments go to the server (e.g. --port=3306).
	Entrypoint: `#!/bin/bash
set -euo pipefail
datadir=/var/lib/mysql
root_pw="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
db="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
user="${MARIADB_USER:-${MYSQL_USER:-}}"
pass="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
if [ "$(id -u)" = 0 ]; then
	chown -R mysql:mysql "$datadir"
	exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi
esc() { printf '%s' "${1//\'/\'\'}"; }
if [ ! -d "$datadir/mysql" ]; then
	if [ -z "$root_pw" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}" ]; then
		echo "error: the database is uninitialized and MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD) is not set" >&2
		exit 1
	fi
	mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db > /dev/null
	mariadbd --datadir="$datadir" --skip-networking --socket=/tmp/init.sock --pid-file=/tmp/init.pid &
	pid=$!
	for _ in $(seq 60); do
		mariadb-admin --socket=/tmp/init.sock -uroot ping --silent 2> /dev/null && break
		sleep 1
	done
	{
		echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$(esc "$root_pw")';"
		echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(esc "$root_pw")';"
		if [ -n "$db" ]; then echo "CREATE DATABASE IF NOT EXISTS \` + "`" + `${db//\` + "`" + `/}\` + "`" + `;"; fi
		if [ -n "$user" ]; then
			echo "CREATE USER IF NOT EXISTS '$(esc "$user")'@'%' IDENTIFIED BY '$(esc "$pass")';"
			if [ -n "$db" ]; then echo "GRANT ALL ON \` + "`" + `${db//\` + "`" + `/}\` + "`" + `.* TO '$(esc "$user")'@'%';"; fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket=/tmp/init.sock -uroot
	kill "$pid"
	wait "$pid" || true
fi
exec mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --socket=/tmp/mysqld.sock --pid-file=/tmp/mysqld.pid "$@"
`,
}

// redis: the catalog runs redis-server itself (sh -c), so the image only
// needs the server, the CLI and a shell; without a command it serves.
var redisRecipe = Recipe{
	Name:        "redis",
	Ref:         "wild.local/redis:7",
	Replaces:    "redis",
	Packages:    []string{"redis-server", "redis-tools"},
	Users:       []string{"redis:999"},
	RuntimeDirs: []string{"/data"},
	Config: Config{
		Entrypoint:   []string{"/usr/local/bin/entrypoint"},
		Env:          []string{"PATH=" + basePath},
		WorkingDir:   "/data",
		ExposedPorts: []string{"6379/tcp"},
		Volumes:      []string{"/data"},
	},
	Entrypoint: `#!/bin/sh
set -e
if [ "$#" = 0 ]; then set -- redis-server --protected-mode no; fi
exec "$@"
`,
}
