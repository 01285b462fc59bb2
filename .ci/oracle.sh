# Sourced by .ci/run (as root, before `cargo test`): what the differential
# test (tests/oracle.rs) needs besides the probe tests' servers
# (.ci/servers.sh): Debian's ldirectord itself, the Perl modules its checks
# load (read from the `require`/`use` lines of /usr/sbin/ldirectord), the
# mail server for pop/imap, and the tools that change the servers' data.
# Missing pieces show as "SKIPPED ..." lines in the test's output, not as
# failures.
#
#   ldirectord                     /usr/sbin/ldirectord 4.12 (the oracle)
#   util-linux                     unshare (stand-in ipvsadm in a private mount namespace)
#   libwww-perl                    LWP::UserAgent (http, https, http_proxy)
#   liblwp-protocol-https-perl     LWP::Protocol::https (https)
#   libio-socket-ssl-perl          IO::Socket::SSL (https, pops, imaps, ldaps)
#   libio-socket-inet6-perl        IO::Socket::INET6 (loaded by ldirectord at start)
#   libsocket6-perl                Socket6 (loaded by ldirectord at start)
#   libmail-pop3client-perl        Mail::POP3Client (pop, pops)
#   libnet-imap-simple-perl        Net::IMAP::Simple (imap)
#   libnet-imap-simple-ssl-perl    Net::IMAP::Simple::SSL (imaps)
#   libnet-dns-perl                Net::DNS (dns)
#   libdbi-perl libdbd-mysql-perl  DBI, DBD::mysql (mysql)
#   libdbd-pg-perl                 DBD::Pg (pgsql)
#   libnet-ldap-perl               Net::LDAP (ldap, ldaps)
#   libauthen-radius-perl          Authen::Radius (radius)
#   (Net::FTP, Net::SMTP: perl's own libnet)
#   dovecot-pop3d dovecot-imapd    the pop/imap server (also checks/tests/pop.rs, imap.rs)
#   ldap-utils                     ldapmodify (the ldap server's data changes)
#   postgresql-client              psql (the pgsql server's data changes)
ORACLE_PACKAGES="ldirectord util-linux libwww-perl liblwp-protocol-https-perl \
libio-socket-ssl-perl libio-socket-inet6-perl libsocket6-perl \
libmail-pop3client-perl libnet-imap-simple-perl libnet-imap-simple-ssl-perl \
libnet-dns-perl libdbi-perl libdbd-mysql-perl libdbd-pg-perl libnet-ldap-perl \
libauthen-radius-perl dovecot-pop3d dovecot-imapd ldap-utils postgresql-client"
# In .ci/run, add them to the install line:
#   apt-get install -y -qq --no-install-recommends ... $ORACLE_PACKAGES >/dev/null
