/*
 * Unit tests of core/config: defaults, files, overrides, validation, reload checks, dumping, and that the
 * sample etc/kmipd.conf and the man page etc/kmipd.conf.5 agree with the key table.
 *
 * The sample files are found through $KMIPD_SRCDIR, the working directory, or the binary's location
 * (BUILD/test/test_config, two levels below the source tree).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>
#include <libconfig.h>

#include "core/config.h"
#include "test/util.h"

static char srcdir[PATH_MAX] = ".";

struct fixture {
	char dir[64];
	char path[128];
	struct kmipd_config *cfg;
	struct kmipd_config *cfg2;
	char *cause;
};

/* The identity every test needs unless it is testing the identity checks. */
#define TLS_PEM "tls: { cert_file = \"/c.crt\"; key_file = \"/c.key\"; clients_ca_cert_file = \"/ca.crt\"; };\n"

static char *const tls_ov[] = {
	"tls.cert_file=/c.crt", "tls.key_file=/c.key", "tls.clients_ca_cert_file=/ca.crt",
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_config") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/kmipd.conf", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(f->cfg);
	config_free(f->cfg2);
	free(f->cause);
	if (util_rmtree(f->dir) != 0)
		return -1;
	free(f);
	return 0;
}

/* Writes text to path. */
static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Reads a whole file (a sample or one the test wrote) into a malloc'd string. */
static char *
read_file(const char *path)
{
	size_t len;
	char *buf = util_read_file(path, &len);

	if (buf == NULL)
		fail_msg("cannot open %s: %s (set KMIPD_SRCDIR to the source tree)", path, strerror(errno));
	assert_true(len < 1024 * 1024);
	return buf;
}

/* Writes text to the fixture's file and loads it with overrides into f->cfg; returns config_load's result. */
static int
load_text(struct fixture *f, const char *text, char *const *ov, size_t nov)
{
	int rc;

	write_file(f->path, text);
	config_free(f->cfg);
	f->cfg = NULL;
	free(f->cause);
	f->cause = NULL;
	rc = config_load(f->path, ov, nov, &f->cfg, &f->cause);
	if (rc == 0) {
		assert_non_null(f->cfg);
		assert_null(f->cause);
	} else {
		assert_int_equal(rc, -1);
		assert_null(f->cfg);
		assert_non_null(f->cause);
	}
	return rc;
}

/* Asserts that text loads. */
static void
load_ok(struct fixture *f, const char *text, char *const *ov, size_t nov)
{
	if (load_text(f, text, ov, nov) != 0)
		fail_msg("does not load: %s", f->cause);
}

/* Asserts that loading text fails with a cause that contains each of the given strings. */
static void
expect_error(struct fixture *f, const char *text, char *const *ov, size_t nov, ...)
{
	const char *want;
	va_list ap;

	if (load_text(f, text, ov, nov) == 0)
		fail_msg("loaded, expected an error:\n%s", text);
	va_start(ap, nov);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(f->cause, want) == NULL)
			fail_msg("cause \"%s\" lacks \"%s\"", f->cause, want);
	}
	va_end(ap);
}

/* "PATH:LINE: " of the fixture's file. */
static const char *
at(struct fixture *f, int line)
{
	static char buf[192];

	snprintf(buf, sizeof(buf), "%s:%d: ", f->path, line);
	return buf;
}

/* The index of key name in the table. */
static size_t
key_index(const char *name)
{
	for (size_t i = 0; i < config_key_count(); i++)
		if (strcmp(config_key_name(i), name) == 0)
			return i;
	fail_msg("no key %s", name);
	return 0;
}

/* Asserts that a and b agree on every key except those listed (NULL-terminated). */
static void
assert_equal_except(const struct kmipd_config *a, const struct kmipd_config *b, ...)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		const char *skip;
		bool skipped = false;
		va_list ap;

		va_start(ap, b);
		while ((skip = va_arg(ap, const char *)) != NULL)
			skipped |= strcmp(skip, config_key_name(i)) == 0;
		va_end(ap);
		if (!skipped && !config_key_equal(a, b, i))
			fail_msg("key %s differs", config_key_name(i));
	}
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct kmipd_config *c;

	f->cfg = config_defaults();
	c = f->cfg;
	assert_non_null(c);
	assert_int_equal(c->server.listen.count, 1);
	assert_string_equal(c->server.listen.items[0], "0.0.0.0");
	assert_int_equal(c->server.port, 5696);
	assert_int_equal(c->server.max_connections, 10000);
	assert_int_equal(c->server.max_message_size, 1024 * 1024);
	assert_int_equal(c->server.max_batch_items, 64);
	assert_int_equal(c->server.max_attributes, 1024);
	assert_int_equal(c->server.max_attribute_values, 256);
	assert_int_equal(c->server.max_attribute_bytes, 1024 * 1024);
	assert_int_equal(c->server.max_split_key_parts, 64);
	assert_int_equal(c->server.locate_max_items, 1000);
	assert_int_equal(c->server.locate_scan_budget, 10000);
	assert_int_equal(c->server.lease_time, 0);
	assert_int_equal(c->server.max_derive_iterations, 1000000);
	assert_int_equal(c->server.max_derive_data, 4096);
	assert_int_equal(c->server.max_derive_length, 4096);
	assert_int_equal(c->server.max_handshakes, 64);
	assert_int_equal(c->server.max_connections_per_source, 1000);
	assert_int_equal(c->server.handshake_rate_per_source, 100);
	assert_int_equal(c->server.handshake_burst_per_source, 200);
	assert_int_equal(c->server.max_sources, 16384);
	assert_int_equal(c->server.handshake_timeout, 5);
	assert_int_equal(c->server.request_timeout, 30);
	assert_int_equal(c->server.idle_timeout, 300);
	assert_int_equal(c->server.shutdown_timeout, 10);
	assert_int_equal(c->server.max_requests_per_event, 16);
	assert_int_equal(c->server.write_high_water, 1024 * 1024);
	assert_null(c->server.user);
	assert_null(c->server.group);
	assert_null(c->server.pid_file);
	assert_null(c->tls.cert_file);
	assert_null(c->tls.key_file);
	assert_null(c->tls.p12_file);
	assert_null(c->tls.p12_password);
	assert_null(c->tls.clients_ca_cert_file);
	assert_int_equal(c->tls.min_version, CONFIG_TLS_1_2);
	assert_null(c->tls.ciphers);
	assert_null(c->tls.ciphersuites);
	assert_int_equal(c->tls.session_cache_size, 20480);
	assert_int_equal(c->tls.session_timeout, 7200);
	assert_true(c->tls.session_tickets);
	assert_int_equal(c->tls.verify_depth, 4);
	assert_string_equal(c->store.path, "/var/lib/kmipd");
	assert_int_equal(c->store.map_size, 256ULL << 20);
	assert_int_equal(c->store.max_map_size, 64ULL << 30);
	assert_int_equal(c->store.sync, CONFIG_SYNC_FULL);
	assert_true(c->store.group_commit);
	assert_int_equal(c->keygen.workers, 2);
	assert_int_equal(c->keygen.pool_size, 8);
	assert_int_equal(c->keygen.timeout, 30);
	assert_int_equal(c->crypto.max_streams, 8);
	assert_int_equal(c->crypto.max_streams_per_identity, 64);
	assert_int_equal(c->crypto.stream_idle_timeout, 300);
	assert_int_equal(c->crypto.rng_seed_max, 64);
	assert_false(c->compat.destroy_active);
	assert_false(c->compat.wrapped_key_value_structure);
	assert_int_equal(c->access.admins.count, 0);
	assert_int_equal(c->access.identity, CONFIG_IDENTITY_CN);
	assert_int_equal(c->access.max_objects_per_identity, 0);
	assert_int_equal(c->access.max_bytes_per_identity, 16ULL << 30);	/* a quarter of the store */
	assert_int_equal(c->access.quotas.count, 0);
	assert_int_equal(c->log.level, CONFIG_LOG_INFO);
	assert_int_equal(c->log.target, CONFIG_LOG_STDERR);
	assert_int_equal(c->log.syslog_facility, LOG_DAEMON);
	assert_null(c->audit.file);
	assert_false(c->audit.syslog);
	assert_false(c->audit.required);

	/* no file: the defaults plus the overrides */
	assert_int_equal(config_load(NULL, tls_ov, 3, &f->cfg2, &f->cause), 0);
	assert_equal_except(f->cfg, f->cfg2, "tls.cert_file", "tls.key_file", "tls.clients_ca_cert_file", NULL);
	assert_string_equal(f->cfg2->tls.cert_file, "/c.crt");
}

static const char every_key[] =
	"server: {\n"
	"  listen = [ \"127.0.0.1\", \"::1\" ];\n"
	"  port = 15696;\n"
	"  max_connections = 500;\n"
	"  max_handshakes = 16;\n"
	"  max_connections_per_source = 0;\n"
	"  handshake_rate_per_source = 0;\n"
	"  handshake_burst_per_source = 5;\n"
	"  max_sources = 1024;\n"
	"  max_message_size = \"2M\";\n"
	"  max_batch_items = 8;\n"
	"  max_attributes = 100;\n"
	"  max_attribute_values = 10;\n"
	"  max_attribute_bytes = \"64K\";\n"
	"  max_split_key_parts = 8;\n"
	"  locate_max_items = 50;\n"
	"  locate_scan_budget = 500;\n"
	"  lease_time = 3600;\n"
	"  max_derive_iterations = 5000;\n"
	"  max_derive_data = \"8K\";\n"
	"  max_derive_length = 1024;\n"
	"  handshake_timeout = 7;\n"
	"  request_timeout = 6;\n"
	"  idle_timeout = 0;\n"
	"  shutdown_timeout = 3;\n"
	"  workers = 3;\n"
	"  worker_heartbeat_timeout = 9;\n"
	"  max_requests_per_event = 4;\n"
	"  write_high_water = 65536;\n"
	"  max_response_size = \"5M\";\n"
	"  max_buffered = \"64M\";\n"
	"  max_buffered_per_identity = \"16M\";\n"
	"  user = \"kmipd\";\n"
	"  group = \"kmipgrp\";\n"
	"  pid_file = \"/run/kmipd.pid\";\n"
	"};\n"
	"tls: {\n"
	"  p12_file = \"/etc/kmipd/server.p12\";\n"
	"  p12_password = \"hunter2\";\n"
	"  ecdsa_cert_file = \"/etc/kmipd/server-ec.crt\";\n"
	"  ecdsa_key_file = \"/etc/kmipd/server-ec.key\";\n"
	"  clients_ca_cert_file = \"/etc/kmipd/ca.crt\";\n"
	"  min_version = \"1.3\";\n"
	"  ciphers = \"HIGH\";\n"
	"  ciphersuites = \"TLS_AES_256_GCM_SHA384\";\n"
	"  session_cache_size = 100;\n"
	"  session_timeout = 60;\n"
	"  session_tickets = false;\n"
	"  session_max_size = \"8K\"; ticket_key_file = \"/etc/kmipd/ticket.keys\"; ticket_key_rotation = 600;\n"
	"  verify_depth = 2;\n"
	"  crl_file = \"/etc/kmipd/crl.pem\"; crl_expired = \"refuse\"; crl_check_interval = 5;\n"
	"};\n"
	"store: {\n"
	"  path = \"/srv/kmipd\";\n"
	"  map_size = \"1G\";\n"
	"  max_map_size = 8589934592L;\n"
	"  sync = \"relaxed\";\n"
	"  group_commit = false;\n"
	"  encryption = false;\n"
	"  master_key_file = \"/etc/kmipd/master.key\";\n"
	"  master_key_credential = \"kmipd-master\";\n"
	"  pkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\";\n"
	"  pkcs11_token = \"kmipd\";\n"
	"  pkcs11_key = \"master-2\";\n"
	"  pkcs11_pin_file = \"credential:kmipd-pin\";\n"
	"  previous_master_key_file = \"/etc/kmipd/old.key\";\n"
	"  previous_master_key_credential = \"kmipd-old\";\n"
	"  pkcs11_previous_key = \"master-1\";\n"
	"  reseal_batch = 64;\n"
	"  backend = \"etcd\";\n"
	"  etcd_endpoints = \"https://10.0.0.1:2379,https://10.0.0.2:2379\";\n"
	"  etcd_prefix = \"/kms/\";\n"
	"  etcd_node_name = \"kms-1\";\n"
	"  etcd_ca_file = \"/etc/kmipd/etcd-ca.crt\";\n"
	"  etcd_cert_file = \"/etc/kmipd/etcd.crt\";\n"
	"  etcd_key_file = \"/etc/kmipd/etcd.key\";\n"
	"  etcd_server_name = \"etcd.example\";\n"
	"  etcd_user = \"kmipd\";\n"
	"  etcd_password_file = \"/etc/kmipd/etcd.pass\";\n"
	"  etcd_request_timeout = 3000;\n"
	"  etcd_connect_timeout = 1000;\n"
	"  etcd_heartbeat = 500;\n"
	"  max_staleness = 20;\n"
	"  etcd_start_timeout = 90;\n"
	"};\n"
	"keygen: { workers = 4; pool_size = 0; timeout = 90; max_per_identity = 3; };\n"
	"crypto: { max_streams = 3; max_streams_per_identity = 5; stream_idle_timeout = 20; rng_seed_max = 16; };\n"
	"compat: { destroy_active = true; wrapped_key_value_structure = true; };\n"
	"access: { admins = [ \"admin\", \"ops\" ]; identity = \"fingerprint\";\n"
	"  credentials = [ \"appliance:pbkdf2-sha256$50000$00112233445566778899aabbccddeeff$"
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\" ];\n"
	"  require_credential = true; shares = [ \"veeam-a:shared:veeam-b\" ];\n"
	"  allow = [ \"veeam-a\", \"veeam-b\" ]; deny = [ \"stolen-01\" ];\n"
	"  max_objects_per_identity = 100000; max_bytes_per_identity = \"2G\";\n"
	"  quotas = [ \"veeam-a:0:0\", \"CN=odd:name:5:1M\" ];\n"
	"  roles = [ \"backup: Locate, Get\", \"ro: Locate; material = no\" ];\n"
	"  grants = [ \"backup:ou:Backup Servers\" ]; default_role = \"ro\";\n"
	"  max_derivations_per_identity = 5; max_derivations_per_source = 7; credential_backoff_max = 120; };\n"
	"log: { level = \"debug\"; target = \"syslog\"; syslog_facility = \"local3\"; file = \"/var/log/kmipd/kmipd.log\";\n"
	"\tformat = \"json\"; connections = true; };\n"
	"audit: { file = \"/var/log/kmipd/audit.log\"; syslog = true; required = true; };\n"
	"admin: { socket = \"/run/kmipd/admin.sock\"; socket_mode = \"0600\"; socket_group = \"adm\";\n"
	"  max_connections = 2; timeout = 9; };\n"
	"metrics: { listen = \"[::1]:9696\"; max_connections = 3; timeout = 7; };\n";

/* Asserts the values of every_key. */
static void
check_every_key(const struct kmipd_config *c)
{
	assert_int_equal(c->server.listen.count, 2);
	assert_string_equal(c->server.listen.items[0], "127.0.0.1");
	assert_string_equal(c->server.listen.items[1], "::1");
	assert_int_equal(c->server.port, 15696);
	assert_int_equal(c->server.max_connections, 500);
	assert_int_equal(c->server.max_handshakes, 16);
	assert_int_equal(c->server.max_connections_per_source, 0);
	assert_int_equal(c->server.handshake_rate_per_source, 0);
	assert_int_equal(c->server.handshake_burst_per_source, 5);
	assert_int_equal(c->server.max_sources, 1024);
	assert_int_equal(c->server.max_message_size, 2 * 1024 * 1024);
	assert_int_equal(c->server.max_batch_items, 8);
	assert_int_equal(c->server.max_attributes, 100);
	assert_int_equal(c->server.max_attribute_values, 10);
	assert_int_equal(c->server.max_attribute_bytes, 65536);
	assert_int_equal(c->server.max_split_key_parts, 8);
	assert_int_equal(c->server.locate_max_items, 50);
	assert_int_equal(c->server.locate_scan_budget, 500);
	assert_int_equal(c->server.lease_time, 3600);
	assert_int_equal(c->server.max_derive_iterations, 5000);
	assert_int_equal(c->server.max_derive_data, 8192);
	assert_int_equal(c->server.max_derive_length, 1024);
	assert_int_equal(c->server.handshake_timeout, 7);
	assert_int_equal(c->server.request_timeout, 6);
	assert_int_equal(c->server.idle_timeout, 0);
	assert_int_equal(c->server.shutdown_timeout, 3);
	assert_string_equal(c->server.workers, "3");
	assert_int_equal(config_workers(c), 3);
	assert_int_equal(c->server.worker_heartbeat_timeout, 9);
	assert_int_equal(c->server.max_requests_per_event, 4);
	assert_int_equal(c->server.write_high_water, 65536);
	assert_int_equal(c->server.max_response_size, 5 * 1024 * 1024);
	assert_int_equal(c->server.max_buffered, 64 * 1024 * 1024);
	assert_int_equal(c->server.max_buffered_per_identity, 16 * 1024 * 1024);
	assert_int_equal(config_max_response_size(c), 5 * 1024 * 1024);
	assert_string_equal(c->server.user, "kmipd");
	assert_string_equal(c->server.group, "kmipgrp");
	assert_string_equal(c->server.pid_file, "/run/kmipd.pid");
	assert_null(c->tls.cert_file);
	assert_null(c->tls.key_file);
	assert_string_equal(c->tls.p12_file, "/etc/kmipd/server.p12");
	assert_string_equal(c->tls.p12_password, "hunter2");
	assert_string_equal(c->tls.ecdsa_cert_file, "/etc/kmipd/server-ec.crt");
	assert_string_equal(c->tls.ecdsa_key_file, "/etc/kmipd/server-ec.key");
	assert_string_equal(c->tls.clients_ca_cert_file, "/etc/kmipd/ca.crt");
	assert_int_equal(c->tls.min_version, CONFIG_TLS_1_3);
	assert_string_equal(c->tls.ciphers, "HIGH");
	assert_string_equal(c->tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
	assert_int_equal(c->tls.session_cache_size, 100);
	assert_int_equal(c->tls.session_timeout, 60);
	assert_false(c->tls.session_tickets);
	assert_int_equal(c->tls.session_max_size, 8192);
	assert_string_equal(c->tls.ticket_key_file, "/etc/kmipd/ticket.keys");
	assert_int_equal(c->tls.ticket_key_rotation, 600);
	assert_int_equal(c->tls.verify_depth, 2);
	assert_string_equal(c->tls.crl_file, "/etc/kmipd/crl.pem");
	assert_int_equal(c->tls.crl_expired, CONFIG_CRL_EXPIRED_REFUSE);
	assert_int_equal(c->tls.crl_check_interval, 5);
	assert_string_equal(c->store.path, "/srv/kmipd");
	assert_int_equal(c->store.map_size, 1ULL << 30);
	assert_int_equal(c->store.max_map_size, 8ULL << 30);
	assert_int_equal(c->store.sync, CONFIG_SYNC_RELAXED);
	assert_false(c->store.group_commit);
	assert_false(c->store.encryption);
	assert_string_equal(c->store.master_key_file, "/etc/kmipd/master.key");
	assert_string_equal(c->store.master_key_credential, "kmipd-master");
	assert_string_equal(c->store.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(c->store.pkcs11_token, "kmipd");
	assert_string_equal(c->store.pkcs11_key, "master-2");
	assert_string_equal(c->store.pkcs11_pin_file, "credential:kmipd-pin");
	assert_string_equal(c->store.previous_master_key_file, "/etc/kmipd/old.key");
	assert_string_equal(c->store.previous_master_key_credential, "kmipd-old");
	assert_string_equal(c->store.pkcs11_previous_key, "master-1");
	assert_int_equal(c->store.reseal_batch, 64);
	assert_int_equal(c->store.backend, CONFIG_BACKEND_ETCD);
	assert_string_equal(c->store.etcd_endpoints, "https://10.0.0.1:2379,https://10.0.0.2:2379");
	assert_string_equal(c->store.etcd_prefix, "/kms/");
	assert_string_equal(c->store.etcd_node_name, "kms-1");
	assert_string_equal(c->store.etcd_ca_file, "/etc/kmipd/etcd-ca.crt");
	assert_string_equal(c->store.etcd_cert_file, "/etc/kmipd/etcd.crt");
	assert_string_equal(c->store.etcd_key_file, "/etc/kmipd/etcd.key");
	assert_string_equal(c->store.etcd_server_name, "etcd.example");
	assert_string_equal(c->store.etcd_user, "kmipd");
	assert_string_equal(c->store.etcd_password_file, "/etc/kmipd/etcd.pass");
	assert_int_equal(c->store.etcd_request_timeout, 3000);
	assert_int_equal(c->store.etcd_connect_timeout, 1000);
	assert_int_equal(c->store.etcd_heartbeat, 500);
	assert_int_equal(c->store.max_staleness, 20);
	assert_int_equal(c->store.etcd_start_timeout, 90);
	assert_int_equal(c->keygen.workers, 4);
	assert_int_equal(c->keygen.pool_size, 0);
	assert_int_equal(c->keygen.timeout, 90);
	assert_int_equal(c->keygen.max_per_identity, 3);
	assert_int_equal(c->crypto.max_streams, 3);
	assert_int_equal(c->crypto.max_streams_per_identity, 5);
	assert_int_equal(c->crypto.stream_idle_timeout, 20);
	assert_int_equal(c->crypto.rng_seed_max, 16);
	assert_true(c->compat.destroy_active);
	assert_true(c->compat.wrapped_key_value_structure);
	assert_int_equal(c->access.admins.count, 2);
	assert_string_equal(c->access.admins.items[0], "admin");
	assert_string_equal(c->access.admins.items[1], "ops");
	assert_int_equal(c->access.credentials.count, 1);
	assert_true(c->access.require_credential);
	assert_int_equal(c->access.max_derivations_per_identity, 5);
	assert_int_equal(c->access.max_derivations_per_source, 7);
	assert_int_equal(c->access.credential_backoff_max, 120);
	assert_int_equal(c->access.shares.count, 1);
	assert_string_equal(c->access.shares.items[0], "veeam-a:shared:veeam-b");
	assert_int_equal(c->access.allow.count, 2);
	assert_string_equal(c->access.deny.items[0], "stolen-01");
	assert_int_equal(c->access.max_objects_per_identity, 100000);
	assert_int_equal(c->access.max_bytes_per_identity, 2ULL << 30);
	assert_int_equal(c->access.quotas.count, 2);
	assert_string_equal(c->access.quotas.items[1], "CN=odd:name:5:1M");
	assert_int_equal(c->access.roles.count, 2);
	assert_string_equal(c->access.roles.items[1], "ro: Locate; material = no");
	assert_int_equal(c->access.grants.count, 1);
	assert_string_equal(c->access.default_role, "ro");
	assert_int_equal(c->access.identity, CONFIG_IDENTITY_FINGERPRINT);
	assert_int_equal(c->log.level, CONFIG_LOG_DEBUG);
	assert_int_equal(c->log.target, CONFIG_LOG_SYSLOG);
	assert_int_equal(c->log.syslog_facility, LOG_LOCAL3);
	assert_string_equal(c->log.file, "/var/log/kmipd/kmipd.log");
	assert_int_equal(c->log.format, CONFIG_LOG_JSON);
	assert_true(c->log.connections);
	assert_string_equal(c->audit.file, "/var/log/kmipd/audit.log");
	assert_true(c->audit.syslog);
	assert_true(c->audit.required);
	assert_string_equal(c->admin.socket, "/run/kmipd/admin.sock");
	assert_string_equal(c->admin.socket_mode, "0600");
	assert_string_equal(c->admin.socket_group, "adm");
	assert_int_equal(c->admin.max_connections, 2);
	assert_int_equal(c->admin.timeout, 9);
	assert_string_equal(c->metrics.listen, "[::1]:9696");
	assert_int_equal(c->metrics.max_connections, 3);
	assert_int_equal(c->metrics.timeout, 7);
}

/* Encryption takes at most one master key source, one previous key, and a whole PKCS#11 setting. */
static void
test_master_key_sources(void **state)
{
	struct fixture *f = *state;

	load_ok(f, TLS_PEM "store: { master_key_file = \"/k\"; previous_master_key_file = \"/old\"; };\n",
	    NULL, 0);
	load_ok(f, TLS_PEM, NULL, 0);	/* none: kmipd refuses to start, and -t says so */
	expect_error(f, TLS_PEM "store: { master_key_file = \"/k\"; master_key_credential = \"c\"; };\n",
	    NULL, 0, "more than one master key source", NULL);
	expect_error(f, TLS_PEM "store: { master_key_file = \"/k\"; previous_master_key_file = \"/a\";\n"
	    "previous_master_key_credential = \"b\"; };\n", NULL, 0, "more than one previous master key", NULL);
	expect_error(f, TLS_PEM "store: { pkcs11_module = \"/m.so\"; pkcs11_token = \"t\"; };\n", NULL, 0,
	    "needs store.pkcs11_token and store.pkcs11_pin_file", NULL);
	expect_error(f, TLS_PEM "store: { master_key_file = \"/k\"; pkcs11_previous_key = \"old\"; };\n",
	    NULL, 0, "store.pkcs11_previous_key is a key on the token", NULL);
	/* Off, the sources are not looked at. */
	load_ok(f, TLS_PEM "store: { encryption = false; master_key_file = \"/k\"; master_key_credential = "
	    "\"c\"; };\n", NULL, 0);
}

/* store.backend = etcd: what it needs of the other keys, and the values of its own keys. */
static void
test_cluster_keys(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "store: { backend = \"etcd\"; master_key_file = \"/k\"; };\n", "needs store.etcd_endpoints" },
		{ "store: { backend = \"etcd\"; etcd_endpoints = \"http://127.0.0.1:2379\"; encryption = false; };\n",
		  "needs store.encryption = true" },
		{ "store: { backend = \"etcd\"; etcd_endpoints = \"http://127.0.0.1:2379\"; group_commit = false; };\n",
		  "needs store.group_commit = true" },
		{ "store: { backend = \"etcd\"; etcd_endpoints = \"https://127.0.0.1:2379\"; };\n",
		  "need store.etcd_ca_file" },
		{ "store: { backend = \"etcd\"; etcd_endpoints = \"http://127.0.0.1:2379\"; etcd_user = \"u\"; };\n",
		  "go together" },
		{ "store: { backend = \"etcd\"; etcd_endpoints = \"http://a:1\"; etcd_cert_file = \"/c\"; };\n",
		  "go together" },
	};
	char *cause = NULL, text[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", TLS_PEM, bad[i].text);
		load_ok(f, text, NULL, 0);
		assert_int_equal(config_check_cluster(f->cfg, &cause), -1);
		if (strstr(cause, bad[i].error) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, cause, bad[i].error);
		free(cause);
		cause = NULL;
		config_free(f->cfg);
		f->cfg = NULL;
	}
	load_ok(f, TLS_PEM "store: { backend = \"etcd\"; etcd_endpoints = \"http://127.0.0.1:2379, http://127.0.0.2:2379\"; };\n",
	    NULL, 0);
	assert_int_equal(config_check_cluster(f->cfg, &cause), 0);
	config_free(f->cfg);
	f->cfg = NULL;
	/* Endpoints, prefix and node name are checked as they are read; -o sets the endpoints too. */
	expect_error(f, TLS_PEM "store: { etcd_endpoints = \"127.0.0.1:2379\"; };\n", NULL, 0, "not an etcd client URL", NULL);
	expect_error(f, TLS_PEM "store: { etcd_endpoints = \"http://\"; };\n", NULL, 0, "not an etcd client URL", NULL);
	expect_error(f, TLS_PEM "store: { etcd_prefix = \"a b\"; };\n", NULL, 0, "without spaces", NULL);
	expect_error(f, TLS_PEM "store: { etcd_node_name = \"a/b\"; };\n", NULL, 0, "letters, digits", NULL);
	expect_error(f, TLS_PEM "store: { backend = \"raft\"; };\n", NULL, 0, "lmdb", NULL);
	{
		char *ov[] = { "store.etcd_endpoints=http://10.1.1.1:2379,http://10.1.1.2:2379" };

		load_ok(f, TLS_PEM, ov, 1);
		assert_string_equal(f->cfg->store.etcd_endpoints, "http://10.1.1.1:2379,http://10.1.1.2:2379");
	}
}

static void
test_every_key(void **state)
{
	struct fixture *f = *state;

	load_ok(f, every_key, NULL, 0);
	check_every_key(f->cfg);
	/* and every one of them differs from its default, so a key the loader skipped would show */
	f->cfg2 = config_defaults();
	assert_non_null(f->cfg2);
	for (size_t i = 0; i < config_key_count(); i++) {
		const char *n = config_key_name(i);

		if (strcmp(n, "tls.cert_file") != 0 && strcmp(n, "tls.key_file") != 0 &&
		    config_key_equal(f->cfg, f->cfg2, i))
			fail_msg("every_key leaves %s at its default", n);
	}
}

static void
test_unknown(void **state)
{
	struct fixture *f = *state;

	expect_error(f, TLS_PEM "server: {\n  port = 5696;\n  prot = 1;\n};\n", NULL, 0,
	    at(f, 4), "unknown key server.prot", "did you mean server.port", NULL);
	expect_error(f, TLS_PEM "\nsrever: { port = 1; };\n", NULL, 0, at(f, 3), "unknown group srever",
	    "did you mean server", NULL);
	expect_error(f, TLS_PEM "bogus = 1;\n", NULL, 0, at(f, 2), "unknown group bogus", NULL);
	expect_error(f, TLS_PEM "server = 1;\n", NULL, 0, at(f, 2), "server must be a group", NULL);
	expect_error(f, TLS_PEM "server: { port = 1; port = 2; };\n", NULL, 0, at(f, 2), NULL);
}

static void
test_wrong_type(void **state)
{
	struct fixture *f = *state;

	expect_error(f, TLS_PEM "server: { port = \"5696\"; };\n", NULL, 0, at(f, 2), "server.port",
	    "expected an integer", NULL);
	expect_error(f, TLS_PEM "server: { idle_timeout = 1.5; };\n", NULL, 0, at(f, 2),
	    "server.idle_timeout", "seconds", NULL);
	expect_error(f, "tls: { session_tickets = 1; };\n", tls_ov, 3, "tls.session_tickets",
	    "true or false", NULL);
	expect_error(f, TLS_PEM "store: { path = 5; };\n", NULL, 0, "store.path", "expected a string", NULL);
	expect_error(f, TLS_PEM "server: { listen = 5; };\n", NULL, 0, "server.listen",
	    "list of strings", NULL);
	expect_error(f, TLS_PEM "access: { credentials = [ \"bob:plaintext\" ]; };\n", NULL, 0,
	    "access.credentials", "kmipctl hash-password", NULL);
	/* An upper bound on PBKDF2 iterations: a derivation must stay within seconds of a worker. */
	expect_error(f, TLS_PEM "access: { credentials = [ \"bob:pbkdf2-sha256$10000001$00112233445566778899aabbccddeeff$"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\" ]; };\n", NULL, 0,
	    "access.credentials", "10000001 PBKDF2 iterations is more than the 10000000 accepted", NULL);
	expect_error(f, TLS_PEM "keygen: { max_per_identity = 0; };\n", NULL, 0, "keygen.max_per_identity", NULL);
	expect_error(f, TLS_PEM "access: { shares = [ \"a:b\" ]; };\n", NULL, 0, "access.shares",
	    "owner:group:identity", NULL);
	expect_error(f, TLS_PEM "access: { admins = ( \"a\", 1 ); };\n", NULL, 0, "access.admins",
	    "list of strings", NULL);
	expect_error(f, TLS_PEM "access: { quotas = [ \"alice:10\" ]; };\n", NULL, 0, "access.quotas",
	    "identity:objects:bytes", NULL);
	expect_error(f, TLS_PEM "access: { quotas = [ \"alice:x:1M\" ]; };\n", NULL, 0, "access.quotas",
	    "not a number", NULL);
	expect_error(f, TLS_PEM "access: { quotas = [ \"alice:1:1Q\" ]; };\n", NULL, 0, "access.quotas",
	    "not a size", NULL);
	expect_error(f, TLS_PEM "store: { map_size = true; };\n", NULL, 0, "store.map_size",
	    "expected a size", NULL);
	expect_error(f, TLS_PEM "store: { map_size = \"12X\"; };\n", NULL, 0, "store.map_size",
	    "not a size", NULL);
	expect_error(f, TLS_PEM "log: { level = \"verbose\"; };\n", NULL, 0, "log.level",
	    "\"verbose\" is not one of error, warn, info, debug", NULL);
	expect_error(f, TLS_PEM "store: { sync = \"none\"; };\n", NULL, 0, "store.sync", NULL);
	expect_error(f, TLS_PEM "server: { listen = [ \"localhost\" ]; };\n", NULL, 0, "server.listen",
	    "\"localhost\" is not an IPv4 or IPv6 address literal", NULL);
	expect_error(f, TLS_PEM "server: { listen = [ \"::\", \"::\" ]; };\n", NULL, 0, "listed twice", NULL);
	expect_error(f, TLS_PEM "server: { listen = [ ]; };\n", NULL, 0, "server.listen", "at least 1", NULL);
	/* a syntax error gives libconfig's line */
	expect_error(f, TLS_PEM "server: {\n port = ;\n};\n", NULL, 0, at(f, 3), NULL);
}

static void
test_out_of_range(void **state)
{
	struct fixture *f = *state;

	expect_error(f, TLS_PEM "server: { port = 70000; };\n", NULL, 0, at(f, 2), "server.port",
	    "70000 is out of range (1..65535)", NULL);
	expect_error(f, TLS_PEM "server: { port = 0; };\n", NULL, 0, "server.port", "out of range", NULL);
	expect_error(f, TLS_PEM "server: { port = -1; };\n", NULL, 0, "server.port", "-1 is out of range", NULL);
	expect_error(f, TLS_PEM "server: { max_message_size = \"128M\"; };\n", NULL, 0,
	    "server.max_message_size", "128M is out of range (1K..64M)", NULL);
	expect_error(f, TLS_PEM "server: { max_message_size = 512; };\n", NULL, 0, "out of range", NULL);
	expect_error(f, TLS_PEM "keygen: { workers = 0; };\n", NULL, 0, "keygen.workers", NULL);
	expect_error(f, TLS_PEM "keygen: { workers = 65; };\n", NULL, 0, "keygen.workers", NULL);
	expect_error(f, TLS_PEM "keygen: { pool_size = 1025; };\n", NULL, 0, "keygen.pool_size", NULL);
	expect_error(f, TLS_PEM "admin: { socket_mode = \"0668\"; };\n", NULL, 0, "admin.socket_mode",
	    "not an octal file mode", NULL);
	expect_error(f, TLS_PEM "admin: { socket_mode = \"01777\"; };\n", NULL, 0, "admin.socket_mode", NULL);
	expect_error(f, TLS_PEM "metrics: { listen = \"localhost:9696\"; };\n", NULL, 0, "metrics.listen",
	    "is not ADDRESS:PORT", NULL);
	expect_error(f, TLS_PEM "metrics: { listen = \"127.0.0.1:0\"; };\n", NULL, 0, "metrics.listen", NULL);
	expect_error(f, TLS_PEM "metrics: { listen = \"::1:9696\"; };\n", NULL, 0, "metrics.listen", NULL);
	expect_error(f, TLS_PEM "server: { max_connections = 1000001; };\n", NULL, 0,
	    "server.max_connections", NULL);
	expect_error(f, TLS_PEM "store: { map_size = \"99999999999999999999\"; };\n", NULL, 0,
	    "store.map_size", "too large", NULL);
	expect_error(f, TLS_PEM "store: { map_size = \"4G\"; max_map_size = \"2G\"; };\n", NULL, 0,
	    at(f, 2), "store.map_size (4G) is larger than store.max_map_size (2G)", NULL);
	/* The sizes that bound memory, against each other. */
	expect_error(f, TLS_PEM "server: { max_message_size = \"4M\"; max_response_size = \"4M\"; };\n", NULL, 0,
	    "server.max_response_size (4M) must be at least twice server.max_message_size (4M)", NULL);
	expect_error(f, TLS_PEM "server: { max_buffered = \"4M\"; };\n", NULL, 0,
	    "server.max_buffered (4M) must hold at least one connection at its largest", NULL);
	/* libconfig 1.5 would keep only the low 32 bits of these: refused rather than misread */
	expect_error(f, TLS_PEM "store: {\n max_map_size = 68719476736;\n};\n", NULL, 0, at(f, 3),
	    "68719476736 does not fit in 32 bits", NULL);
	expect_error(f, TLS_PEM "server: { port = 4294972992; };\n", NULL, 0, "does not fit", NULL);
	expect_error(f, TLS_PEM "server: { port = 0x100001650; };\n", NULL, 0, "does not fit", NULL);
	/* ... but not inside strings or comments, and not with an L */
	load_ok(f, TLS_PEM "# 68719476736\n/* 68719476736 */ // 68719476736\n"
	    "store: { path = \"/x/68719476736\"; max_map_size = 68719476736L; };\n", NULL, 0);
	assert_int_equal(f->cfg->store.max_map_size, 64ULL << 30);
	assert_string_equal(f->cfg->store.path, "/x/68719476736");
}

static void
test_overrides(void **state)
{
	struct fixture *f = *state;
	char *const ov[] = {
		"tls.cert_file=/o.crt",				/* string, unquoted */
		"store.path=\"/var/lib/other kmipd\"",		/* string, quoted */
		"server.port=5697",				/* int */
		"tls.session_tickets=false",			/* bool */
		"server.max_message_size=4M",			/* size with a suffix */
		"store.max_map_size=\"1T\"",			/* size, quoted */
		"access.admins=alice, \"bob\"",			/* list, comma separated */
		"server.listen=[ \"::\", \"0.0.0.0\" ]",	/* list, libconfig syntax */
		"log.level=debug",				/* choice */
		"server.idle_timeout=0",			/* seconds */
		"server.user=",					/* empty: unset */
	};

	load_ok(f, "tls: { cert_file = \"/c.crt\"; key_file = \"/c.key\"; clients_ca_cert_file = \"/ca.crt\";\n"
	    "  session_tickets = true; };\n"
	    "server: { port = 6000; user = \"nobody\"; max_message_size = \"2M\"; };\n"
	    "store: { path = \"/a\"; };\naccess: { admins = [ \"carol\" ]; };\n",
	    ov, sizeof(ov) / sizeof(ov[0]));
	assert_string_equal(f->cfg->tls.cert_file, "/o.crt");
	assert_string_equal(f->cfg->tls.key_file, "/c.key");
	assert_string_equal(f->cfg->store.path, "/var/lib/other kmipd");
	assert_int_equal(f->cfg->server.port, 5697);
	assert_false(f->cfg->tls.session_tickets);
	assert_int_equal(f->cfg->server.max_message_size, 4 << 20);
	assert_int_equal(f->cfg->store.max_map_size, 1ULL << 40);
	assert_int_equal(f->cfg->access.admins.count, 2);
	assert_string_equal(f->cfg->access.admins.items[0], "alice");
	assert_string_equal(f->cfg->access.admins.items[1], "bob");
	assert_int_equal(f->cfg->server.listen.count, 2);
	assert_string_equal(f->cfg->server.listen.items[0], "::");
	assert_string_equal(f->cfg->server.listen.items[1], "0.0.0.0");
	assert_int_equal(f->cfg->log.level, CONFIG_LOG_DEBUG);
	assert_int_equal(f->cfg->server.idle_timeout, 0);
	assert_null(f->cfg->server.user);

	/* the last of two overrides of one key wins; an empty list override empties the list */
	char *const ov2[] = { "server.port=1", "server.port=2", "access.admins=" };

	load_ok(f, TLS_PEM "access: { admins = \"x\"; };\n", ov2, 3);
	assert_int_equal(f->cfg->server.port, 2);
	assert_int_equal(f->cfg->access.admins.count, 0);
}

static void
test_bad_override(void **state)
{
	struct fixture *f = *state;
	struct {
		char *ov;
		const char *want;
	} bad[] = {
		{ "server.port=abc", "-o server.port=abc: expected an integer" },
		{ "server.port=70000", "-o server.port=70000: 70000 is out of range (1..65535)" },
		{ "server.port=-5", "-o server.port=-5: expected an integer" },
		{ "server.port=", "-o server.port=: expected an integer" },
		{ "server.prot=1", "-o server.prot=1: unknown key server.prot (did you mean server.port?)" },
		{ "sever.port=1", "-o sever.port=1: unknown group sever" },
		{ "port=1", "-o port=1: expected group.key=value" },
		{ "server.port", "-o server.port: expected group.key=value" },
		{ "tls.session_tickets=yes", "-o tls.session_tickets=yes: expected true or false" },
		{ "server.max_message_size=1X", "-o server.max_message_size=1X: \"1X\" is not a size" },
		{ "server.max_message_size=1G", "-o server.max_message_size=1G: 1G is out of range" },
		{ "store.path=\"/unterminated", "-o store.path=\"/unterminated: cannot parse" },
		{ "server.listen=[ \"::\", 5 ]", "-o server.listen=[ \"::\", 5 ]: cannot parse" },
		{ "server.listen=::,bad", "-o server.listen=::,bad: \"bad\" is not an IPv4 or IPv6" },
		{ "log.level=loud", "-o log.level=loud: \"loud\" is not one of" },
	};
	char *ov[4] = { tls_ov[0], tls_ov[1], tls_ov[2], NULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ov[3] = bad[i].ov;
		free(f->cause);
		f->cause = NULL;
		if (config_load(NULL, ov, 4, &f->cfg, &f->cause) == 0)
			fail_msg("override %s accepted", bad[i].ov);
		assert_null(f->cfg);
		assert_non_null(f->cause);
		if (strstr(f->cause, bad[i].want) == NULL)
			fail_msg("cause \"%s\" lacks \"%s\"", f->cause, bad[i].want);
	}
}

static void
test_tls_identity(void **state)
{
	struct fixture *f = *state;
	char *const p12[] = { "tls.p12_file=/s.p12" };
	char *const pw[] = { "tls.p12_password=x" };
	char *const ca_only[] = { "tls.clients_ca_cert_file=/ca.crt" };
	char *const ecdsa_crt[] = { "tls.ecdsa_cert_file=/e.crt" };
	char *const ecdsa_key[] = { "tls.ecdsa_key_file=/e.key" };
	char *const ecdsa_both[] = { "tls.ecdsa_cert_file=/e.crt", "tls.ecdsa_key_file=/e.key" };

	expect_error(f, "server: { port = 5696; };\n", NULL, 0, "no server identity", NULL);
	expect_error(f, "", ca_only, 1, "no server identity", NULL);
	/* both a PEM pair and a PKCS#12 file, the latter from an override: the override is named */
	expect_error(f, TLS_PEM, p12, 1, "-o tls.p12_file=/s.p12: ", "tls.p12_file and tls.cert_file are both set",
	    NULL);
	expect_error(f, "tls: {\n cert_file = \"/c\";\n clients_ca_cert_file = \"/ca\";\n};\n", NULL, 0, at(f, 2),
	    "tls.cert_file is set but tls.key_file is not", NULL);
	expect_error(f, "tls: { key_file = \"/k\"; clients_ca_cert_file = \"/ca\"; };\n", NULL, 0,
	    "tls.key_file is set but tls.cert_file is not", NULL);
	expect_error(f, TLS_PEM, pw, 1, "tls.p12_password is set but tls.p12_file is not", NULL);
	/* the ECDSA pair: both or neither, the half given is named */
	expect_error(f, TLS_PEM, ecdsa_crt, 1, "-o tls.ecdsa_cert_file=/e.crt: ",
	    "tls.ecdsa_cert_file is set but tls.ecdsa_key_file is not", NULL);
	expect_error(f, TLS_PEM, ecdsa_key, 1, "-o tls.ecdsa_key_file=/e.key: ",
	    "tls.ecdsa_key_file is set but tls.ecdsa_cert_file is not", NULL);
	load_ok(f, TLS_PEM, ecdsa_both, 2);
	assert_string_equal(f->cfg->tls.ecdsa_cert_file, "/e.crt");
	expect_error(f, "tls: { cert_file = \"/c\"; key_file = \"/k\"; };\n", NULL, 0,
	    "tls.clients_ca_cert_file is not set", NULL);
	/* a PKCS#12 identity alone is fine, and an override may unset the PEM pair the file set */
	char *const swap[] = { "tls.cert_file=", "tls.key_file=", "tls.p12_file=/s.p12", "tls.p12_password=pw" };

	load_ok(f, TLS_PEM, swap, 4);
	assert_null(f->cfg->tls.cert_file);
	assert_string_equal(f->cfg->tls.p12_file, "/s.p12");
	assert_string_equal(f->cfg->tls.p12_password, "pw");
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[192];

	snprintf(path, sizeof(path), "%s/nonexistent.conf", f->dir);
	assert_int_equal(config_load(path, tls_ov, 3, &f->cfg, &f->cause), -1);
	assert_null(f->cfg);
	assert_non_null(strstr(f->cause, path));
	assert_non_null(strstr(f->cause, strerror(ENOENT)));
}

static void
test_include(void **state)
{
	struct fixture *f = *state;
	char inc[192];

	/* relative to the including file, and errors in it name it */
	snprintf(inc, sizeof(inc), "%s/tls.inc", f->dir);
	write_file(inc, TLS_PEM);
	load_ok(f, "@include \"tls.inc\"\nserver: { port = 7000; };\n", NULL, 0);
	assert_string_equal(f->cfg->tls.cert_file, "/c.crt");
	assert_int_equal(f->cfg->server.port, 7000);
	write_file(inc, "\nkeygen: { workers = 1000; };\n");
	expect_error(f, TLS_PEM "@include \"tls.inc\"\n", NULL, 0, "tls.inc:2: keygen.workers", NULL);
	write_file(inc, "\nstore: { map_size = 4294967296; };\n");
	expect_error(f, TLS_PEM "@include \"tls.inc\"\n", NULL, 0, "tls.inc:2: 4294967296 does not fit", NULL);
}

/* Finds a file of the source tree. */
static void
src_path(char *buf, size_t len, const char *rel)
{
	if ((size_t)snprintf(buf, len, "%.*s/%s", PATH_MAX / 2, srcdir, rel) >= len)
		fail_msg("path too long");
}

static void
test_sample_matches_defaults(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];

	src_path(path, sizeof(path), "etc/kmipd.conf");
	if (config_load(path, NULL, 0, &f->cfg, &f->cause) != 0)
		fail_msg("%s: %s", path, f->cause ? f->cause : "?");
	f->cfg2 = config_defaults();
	assert_non_null(f->cfg2);
	assert_equal_except(f->cfg, f->cfg2, "tls.cert_file", "tls.key_file", "tls.clients_ca_cert_file",
	    "store.master_key_file", "admin.socket", NULL);
	assert_non_null(f->cfg->tls.cert_file);
	assert_non_null(f->cfg->tls.clients_ca_cert_file);
}

/*
 * Every key appears in the sample: set, or as a "#key = example;" line in its group when it has no
 * default. Uncommenting those lines must give a file in which libconfig finds every key.
 */
static void
test_sample_lists_every_key(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], *text, *out, *o;
	config_t lc;

	src_path(path, sizeof(path), "etc/kmipd.conf");
	text = read_file(path);
	out = malloc(strlen(text) + 1);
	assert_non_null(out);
	o = out;
	for (char *line = text; *line; ) {
		char *nl = strchr(line, '\n'), *p = line;
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);

		while (*p == '\t' || *p == ' ')
			p++;
		/* "#key = value;" with no space after the '#' is a commented-out setting */
		if (*p == '#' && p[1] >= 'a' && p[1] <= 'z' && strstr(p, " = ") != NULL) {
			memcpy(o, line, (size_t)(p - line));
			o += p - line;
			memcpy(o, p + 1, n - (size_t)(p - line) - 1);
			o += n - (size_t)(p - line) - 1;
		} else {
			memcpy(o, line, n);
			o += n;
		}
		line += n;
	}
	*o = '\0';
	config_init(&lc);
	if (!config_read_string(&lc, out))
		fail_msg("uncommented sample, line %d: %s", config_error_line(&lc), config_error_text(&lc));
	for (size_t i = 0; i < config_key_count(); i++)
		if (config_lookup(&lc, config_key_name(i)) == NULL)
			fail_msg("etc/kmipd.conf does not mention %s", config_key_name(i));
	config_destroy(&lc);
	free(out);
	free(text);
	(void)f;
}

static void
test_man_page_lists_every_key(void **state)
{
	char path[PATH_MAX], *text;

	(void)state;
	src_path(path, sizeof(path), "etc/kmipd.conf.5");
	text = read_file(path);
	for (size_t i = 0; i < config_key_count(); i++)
		if (strstr(text, config_key_name(i)) == NULL)
			fail_msg("etc/kmipd.conf.5 does not document %s", config_key_name(i));
	free(text);
}

static void
test_reload_check(void **state)
{
	struct fixture *f = *state;
	char *const reloadable[] = { tls_ov[0], tls_ov[1], tls_ov[2], "log.level=debug",
	    "tls.cert_file=/new.crt", "server.max_connections=5", "access.admins=root" };
	char *const restart[] = { tls_ov[0], tls_ov[1], tls_ov[2], "log.level=debug", "server.port=6000",
	    "store.path=/elsewhere" };
	struct kmipd_config *next = NULL;

	assert_int_equal(config_load(NULL, tls_ov, 3, &f->cfg, &f->cause), 0);

	/* identical, then only reloadable keys changed */
	assert_int_equal(config_load(NULL, tls_ov, 3, &next, &f->cause), 0);
	assert_int_equal(config_reload_check(f->cfg, next, &f->cause), 0);
	assert_null(f->cause);
	config_free(next);
	assert_int_equal(config_load(NULL, reloadable, 7, &next, &f->cause), 0);
	assert_int_equal(config_reload_check(f->cfg, next, &f->cause), 0);
	assert_null(f->cause);
	config_free(next);

	/* port and path need a restart: both named, the reloadable change not */
	assert_int_equal(config_load(NULL, restart, 6, &f->cfg2, &f->cause), 0);
	assert_int_equal(config_reload_check(f->cfg, f->cfg2, &f->cause), -1);
	assert_non_null(f->cause);
	assert_non_null(strstr(f->cause, "server.port"));
	assert_non_null(strstr(f->cause, "store.path"));
	assert_null(strstr(f->cause, "log.level"));
	free(f->cause);
	f->cause = NULL;

	/* keeping the running values for those makes the check pass and leaves the rest new */
	assert_int_equal(config_keep_restart_keys(f->cfg2, f->cfg, &f->cause), 0);
	assert_int_equal(f->cfg2->server.port, 5696);
	assert_string_equal(f->cfg2->store.path, "/var/lib/kmipd");
	assert_int_equal(f->cfg2->log.level, CONFIG_LOG_DEBUG);
	assert_int_equal(config_reload_check(f->cfg, f->cfg2, &f->cause), 0);

	/* the table agrees on which keys are which */
	assert_false(config_key_reloadable(key_index("server.port")));
	assert_false(config_key_reloadable(key_index("store.path")));
	assert_true(config_key_reloadable(key_index("log.level")));
	assert_true(config_key_reloadable(key_index("tls.p12_password")));
	assert_false(config_key_reloadable(config_key_count()));
	assert_null(config_key_name(config_key_count()));
}

static void
test_dump_roundtrip(void **state)
{
	struct fixture *f = *state;
	char dumped[192], *text;
	char *const ov[] = { "store.path=/odd \"dir\"\\x", "access.admins=a\tb" };
	FILE *fp;

	load_ok(f, every_key, ov, 2);
	snprintf(dumped, sizeof(dumped), "%s/dump.conf", f->dir);
	fp = fopen(dumped, "w");
	assert_non_null(fp);
	config_dump(fp, f->cfg);
	assert_int_equal(fclose(fp), 0);

	text = read_file(dumped);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "p12_password = (set)"));
	free(text);

	/* the password is not in the dump, so it comes back unset and is given again */
	char *const pw[] = { "tls.p12_password=hunter2" };

	if (config_load(dumped, pw, 1, &f->cfg2, &f->cause) != 0)
		fail_msg("dump does not load: %s", f->cause);
	for (size_t i = 0; i < config_key_count(); i++)
		if (!config_key_equal(f->cfg, f->cfg2, i))
			fail_msg("%s changed through dump and load", config_key_name(i));
	assert_string_equal(f->cfg2->store.path, "/odd \"dir\"\\x");
	assert_string_equal(f->cfg2->access.admins.items[0], "a\tb");

	/* the defaults (plus an identity) survive too, with unset strings and an empty list */
	config_free(f->cfg);
	config_free(f->cfg2);
	f->cfg = f->cfg2 = NULL;
	assert_int_equal(config_load(NULL, tls_ov, 3, &f->cfg, &f->cause), 0);
	fp = fopen(dumped, "w");
	assert_non_null(fp);
	config_dump(fp, f->cfg);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(config_load(dumped, NULL, 0, &f->cfg2, &f->cause), 0);
	assert_equal_except(f->cfg, f->cfg2, NULL);
}

static void
test_key_equal(void **state)
{
	struct fixture *f = *state;

	/* config_key_equal must see a change of each kind of field, or the tests above prove nothing */
	f->cfg = config_defaults();
	f->cfg2 = config_defaults();
	assert_non_null(f->cfg);
	assert_non_null(f->cfg2);
	f->cfg2->server.port++;
	f->cfg2->store.map_size++;
	f->cfg2->tls.session_tickets = false;
	f->cfg2->log.level = CONFIG_LOG_ERROR;
	free(f->cfg2->store.path);
	f->cfg2->store.path = strdup("/x");
	f->cfg2->tls.ciphers = strdup("HIGH");
	f->cfg2->server.listen.items[0][0] = '1';
	for (size_t i = 0; i < config_key_count(); i++) {
		const char *n = config_key_name(i);
		bool changed = !strcmp(n, "server.port") || !strcmp(n, "store.map_size") ||
		    !strcmp(n, "tls.session_tickets") || !strcmp(n, "log.level") || !strcmp(n, "store.path") ||
		    !strcmp(n, "tls.ciphers") || !strcmp(n, "server.listen");

		assert_int_equal(config_key_equal(f->cfg, f->cfg2, i), !changed);
	}
}

/* access.roles, access.grants, access.default_role and the typed SAN identities: syntax accepted and refused. */
static void
test_roles(void **state)
{
	struct fixture *f = *state;
	const char *ops;
	char *name = NULL, *reason = NULL;
	size_t len;
	bool material;

	load_ok(f, TLS_PEM "access: {\n  identity = \"san:dns\";\n"
	    "  roles = [ \"backup: Locate, Get, Create Key Pair, Activate, Revoke, Destroy\",\n"
	    "    \"readonly : Locate, GetAttributes, Get Attribute List; material = no\" ];\n"
	    "  grants = [ \"backup:identity:CN=a:b,O=c\", \"backup:ou:Backup Servers\",\n"
	    "    \"readonly:san:DNS:*.backup.example.com\" ];\n  default_role = \"readonly\";\n};\n", NULL, 0);
	assert_int_equal(f->cfg->access.identity, CONFIG_IDENTITY_SAN_DNS);
	assert_int_equal(f->cfg->access.roles.count, 2);
	assert_int_equal(f->cfg->access.grants.count, 3);
	assert_string_equal(f->cfg->access.grants.items[0], "backup:identity:CN=a:b,O=c");
	assert_string_equal(f->cfg->access.default_role, "readonly");
	load_ok(f, TLS_PEM "access: { identity = \"san:uri\"; };\n", NULL, 0);
	assert_int_equal(f->cfg->access.identity, CONFIG_IDENTITY_SAN_URI);
	load_ok(f, TLS_PEM "access: { identity = \"san:email\"; };\n", NULL, 0);
	assert_int_equal(f->cfg->access.identity, CONFIG_IDENTITY_SAN_EMAIL);
	load_ok(f, TLS_PEM "access: { identity = \"san\"; };\n", NULL, 0);
	assert_int_equal(f->cfg->access.identity, CONFIG_IDENTITY_SAN);

	assert_int_equal(config_parse_role(" readonly : Locate , Get ;material=no ", &name, &ops, &len, &material,
	    &reason), 0);
	assert_string_equal(name, "readonly");
	assert_int_equal(len, strlen("Locate , Get"));
	assert_memory_equal(ops, "Locate , Get", len);
	assert_false(material);
	free(name);
	assert_int_equal(config_parse_role("backup: Get", &name, &ops, &len, &material, &reason), 0);
	assert_true(material);
	free(name);

	expect_error(f, TLS_PEM "access: { roles = [ \"no colon\" ]; };\n", NULL, 0, "access.roles",
	    "name: Operation", NULL);
	expect_error(f, TLS_PEM "access: { roles = [ \"two words: Get\" ]; };\n", NULL, 0, "access.roles",
	    "role name", NULL);
	expect_error(f, TLS_PEM "access: { roles = [ \"r: Get; material = maybe\" ]; };\n", NULL, 0,
	    "access.roles", "yes or no", NULL);
	expect_error(f, TLS_PEM "access: { grants = [ \"r:user:bob\" ]; };\n", NULL, 0, "access.grants",
	    "role:identity:ID", NULL);
	expect_error(f, TLS_PEM "access: { grants = [ \"r:san:*.example.com\" ]; };\n", NULL, 0, "access.grants",
	    "DNS:, URI:", NULL);
	expect_error(f, TLS_PEM "access: { grants = [ \"r:identity:\" ]; };\n", NULL, 0, "access.grants", NULL);
	expect_error(f, TLS_PEM "access: { default_role = \"a b\"; };\n", NULL, 0, "access.default_role",
	    "role name", NULL);
	expect_error(f, TLS_PEM "access: { identity = \"san:ip\"; };\n", NULL, 0, "access.identity", NULL);
}

/* server.workers: a number (in the file as an integer or a string, or by -o) or auto, capped; 1 by default. */
static void
test_workers_key(void **state)
{
	struct fixture *f = *state;
	char *ov[] = { "server.workers=auto" };
	cpu_set_t set;
	unsigned cpus;

	load_ok(f, TLS_PEM, NULL, 0);
	assert_int_equal(config_workers(f->cfg), 1);
	load_ok(f, TLS_PEM "server: { workers = \"5\"; };\n", NULL, 0);
	assert_int_equal(config_workers(f->cfg), 5);
	load_ok(f, TLS_PEM, ov, 1);
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	cpus = (unsigned)CPU_COUNT(&set);
	assert_int_equal(config_workers(f->cfg), cpus > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : cpus);
	expect_error(f, TLS_PEM "server: { workers = 0; };\n", NULL, 0, "server.workers", "1 to 64", NULL);
	expect_error(f, TLS_PEM "server: { workers = 65; };\n", NULL, 0, "server.workers", "1 to 64", NULL);
	expect_error(f, TLS_PEM "server: { workers = \"many\"; };\n", NULL, 0, "server.workers", "auto", NULL);
	expect_error(f, TLS_PEM "server: { workers = 1.5; };\n", NULL, 0, "server.workers", NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_matches_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_lists_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_man_page_lists_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_equal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers_key, setup, teardown),
	};
	const char *env = getenv("KMIPD_SRCDIR");

	if (env != NULL)
		snprintf(srcdir, sizeof(srcdir), "%s", env);
	else if (access("etc/kmipd.conf", R_OK) != 0 && argc > 0) {
		/* run from elsewhere: BUILD/test/test_config lies two levels below the tree */
		char *slash;

		snprintf(srcdir, sizeof(srcdir), "%s", argv[0]);
		if ((slash = strrchr(srcdir, '/')) != NULL)
			snprintf(slash, sizeof(srcdir) - (size_t)(slash - srcdir), "/../..");
		else
			snprintf(srcdir, sizeof(srcdir), "../..");
	}
	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
