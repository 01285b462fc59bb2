# Sourced by .ci/run (as root, before `cargo test`): the Debian packages of
# the real servers that the checks crate's probe tests start themselves,
# each on a free loopback port with its data in a temporary directory, and
# stop by pid (checks/tests/mysql.rs, pgsql.rs, ldap.rs, radius.rs,
# http_proxy.rs). No service is started by the packages (policy-rc.d in
# .ci/run). A test whose server binary is missing prints "SKIPPED: ..." and
# passes, so a missing package shows in the log, not as a failure.
#
#   mariadb-server  mariadbd, mariadb-install-db    (tests/mysql.rs)
#   postgresql      postgres, initdb (run as the postgres user)  (tests/pgsql.rs)
#   slapd           slapd, slapadd, the schemas      (tests/ldap.rs)
#   freeradius      freeradius                       (tests/radius.rs)
#   squid           squid                            (tests/http_proxy.rs)
PROBE_SERVER_PACKAGES="mariadb-server postgresql slapd freeradius squid"
# In .ci/run, add them to the install line:
#   apt-get install -y -qq --no-install-recommends nginx ... $PROBE_SERVER_PACKAGES >/dev/null
