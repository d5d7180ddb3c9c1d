/*
 * test_pam_unit.c
 *	  Check unit tests of pam_vatoken's pure parts: argument parsing (scope=
 *	  included), PAM_RHOST as a client, the reading of the vatoken_verify /
 *	  vatoken_validate reply and the 1.x fallback rule, the mapping to PAM codes, the
 *	  acct_mgmt decision, redaction and log lines, and the libpq parameter
 *	  set (secrets, the TCP rule, service files, what is pinned against the
 *	  environment).  No PAM stack and no database are needed (one test talks
 *	  to a socket that does not exist).  PG* variables of the caller are
 *	  removed first; the tests that need some set them.
 */
#include <check.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_modules.h>

#include "pam_args.h"
#include "pam_check.h"
#include "pam_client.h"
#include "pam_log.h"
#include "pam_params.h"
#include "pam_result.h"

#include "check_report.h"

#define TOKEN "vat_0123456789abcdefghijABCDEFGHIJ0123456789abcDEFxyz"

static vtp_args args;
static char err[256];

static int
parse(int argc, const char **argv)
{
	return vtp_args_parse(argc, argv, &args, err, sizeof(err));
}

/* ---- arguments -------------------------------------------------------- */

START_TEST(args_defaults)
{
	ck_assert_int_eq(parse(0, NULL), PAM_SUCCESS);
	ck_assert_ptr_null(args.conninfo);
	ck_assert_str_eq(args.schema, "public");
	ck_assert_int_eq(args.match, VTP_MATCH_OWNER);
	ck_assert_int_eq(args.timeout, VTP_DEFAULT_TIMEOUT);
	ck_assert(!args.debug && !args.use_first_pass && !args.try_first_pass);
}
END_TEST

START_TEST(args_all_known)
{
	const char *argv[] = {"conninfo=host=/run/postgresql dbname=vt user=pam",
		"match=any", "schema=Vt_2", "timeout=12", "debug", "use_first_pass",
	"try_first_pass"};

	ck_assert_int_eq(parse(7, argv), PAM_SUCCESS);
	ck_assert_str_eq(args.conninfo, "host=/run/postgresql dbname=vt user=pam");
	ck_assert_int_eq(args.match, VTP_MATCH_ANY);
	ck_assert_str_eq(args.schema, "Vt_2");
	ck_assert_int_eq(args.timeout, 12);
	ck_assert(args.debug && args.use_first_pass && args.try_first_pass);
}
END_TEST

START_TEST(args_last_wins)
{
	const char *argv[] = {"match=any", "match=owner", "timeout=3", "timeout=4"};

	ck_assert_int_eq(parse(4, argv), PAM_SUCCESS);
	ck_assert_int_eq(args.match, VTP_MATCH_OWNER);
	ck_assert_int_eq(args.timeout, 4);
}
END_TEST

START_TEST(args_service_and_uri_accepted)
{
	const char *a1[] = {"conninfo=service=vatoken"};
	const char *a2[] = {"conninfo=postgresql://pam@db.example/vt?sslmode=verify-full"};
	const char *a3[] = {"conninfo=dbname=vt passfile=/etc/vatoken/pgpass"};

	ck_assert_int_eq(parse(1, a1), PAM_SUCCESS);
	ck_assert_int_eq(parse(1, a2), PAM_SUCCESS);
	ck_assert_int_eq(parse(1, a3), PAM_SUCCESS);
}
END_TEST

START_TEST(args_unknown_is_service_err_without_value)
{
	const char *a1[] = {"conninf=password=hunter2"};
	const char *a2[] = {"nullok"};
	const char *a3[] = {"debug=1"};

	ck_assert_int_eq(parse(1, a1), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "unknown argument"));
	ck_assert_ptr_nonnull(strstr(err, "conninf"));
	ck_assert_ptr_null(strstr(err, "hunter2"));
	ck_assert_int_eq(parse(1, a2), PAM_SERVICE_ERR);
	ck_assert_int_eq(parse(1, a3), PAM_SERVICE_ERR);
}
END_TEST

START_TEST(args_bad_match)
{
	const char *a1[] = {"match=user"};
	const char *a2[] = {"match="};
	const char *a3[] = {"match"};

	ck_assert_int_eq(parse(1, a1), PAM_SERVICE_ERR);
	ck_assert_int_eq(parse(1, a2), PAM_SERVICE_ERR);
	ck_assert_int_eq(parse(1, a3), PAM_SERVICE_ERR);
}
END_TEST

START_TEST(args_bad_schema)
{
	const char *bad[] = {"schema=", "schema=1vt", "schema=public;drop",
		"schema=pub\"lic", "schema=a.b", "schema=pub lic",
	"schema=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	const char *ok[] = {"schema=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(1, &bad[i]) == PAM_SERVICE_ERR, "%s accepted", bad[i]);
	ck_assert_int_eq(parse(1, ok), PAM_SUCCESS);		/* 63 characters */
}
END_TEST

START_TEST(args_bad_timeout)
{
	const char *bad[] = {"timeout=0", "timeout=-1", "timeout=3601", "timeout=5s",
	"timeout=", "timeout= 5", "timeout=99999999999999999999"};
	const char *ok[] = {"timeout=3600"};
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(1, &bad[i]) == PAM_SERVICE_ERR, "%s accepted", bad[i]);
	ck_assert_int_eq(parse(1, ok), PAM_SUCCESS);
}
END_TEST

START_TEST(args_password_refused)
{
	const char *forms[] = {
		"conninfo=host=db user=pam password=hunter2",
		"conninfo=host=db password='hunter2' dbname=vt",
		"conninfo=password=",
		"conninfo=postgresql://pam:hunter2@db/vt",
		"conninfo=postgres://pam@db/vt?password=hunter2",
	};
	size_t		i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
	{
		ck_assert_msg(parse(1, &forms[i]) == PAM_SERVICE_ERR, "%s accepted", forms[i]);
		ck_assert_ptr_nonnull(strstr(err, "password"));
		ck_assert_ptr_null(strstr(err, "hunter2"));
	}
}
END_TEST

START_TEST(args_bad_conninfo)
{
	const char *a1[] = {"conninfo=host"};
	const char *a2[] = {"conninfo=nosuchkeyword=1"};
	const char *a3[] = {"conninfo=host='unterminated"};

	ck_assert_int_eq(parse(1, a1), PAM_SERVICE_ERR);
	ck_assert_int_eq(parse(1, a2), PAM_SERVICE_ERR);
	ck_assert_int_eq(parse(1, a3), PAM_SERVICE_ERR);
	ck_assert_ptr_null(strstr(err, "unterminated"));
}
END_TEST

START_TEST(args_every_libpq_secret_refused)
{
	const char *forms[] = {
		"conninfo=host=/run/postgresql sslpassword=hunter2",
		"conninfo=postgresql:///vt?host=/run/postgresql&sslpassword=hunter2",
	};
	size_t		i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
	{
		ck_assert_msg(parse(1, &forms[i]) == PAM_SERVICE_ERR, "%s accepted", forms[i]);
		ck_assert_ptr_nonnull(strstr(err, "sslpassword"));
		ck_assert_ptr_null(strstr(err, "hunter2"));
	}
}
END_TEST

START_TEST(args_servicefile_and_insecure_tcp)
{
	const char *a1[] = {"servicefile=/etc/vt/pg_service.conf", "insecure_tcp"};
	const char *a2[] = {"servicefile=pg_service.conf"};

	ck_assert_int_eq(parse(0, NULL), PAM_SUCCESS);
	ck_assert_str_eq(args.servicefile, VTP_DEFAULT_SERVICEFILE);
	ck_assert(!args.insecure_tcp);
	ck_assert_int_eq(parse(2, a1), PAM_SUCCESS);
	ck_assert_str_eq(args.servicefile, "/etc/vt/pg_service.conf");
	ck_assert(args.insecure_tcp);
	ck_assert_int_eq(parse(1, a2), PAM_SERVICE_ERR);
}
END_TEST

/* ---- libpq parameters --------------------------------------------------- */

static vtp_params params;

/* Parse argv and build the parameter set; returns the PAM code. */
static int
build(int argc, const char **argv)
{
	int			rc = parse(argc, argv);

	vtp_params_free(&params);
	if (rc != PAM_SUCCESS)
		return rc;
	return vtp_params_build(&args, &params, err, sizeof(err));
}

static const char *
pget(const char *keyword)
{
	return vtp_params_get(&params, keyword);
}

START_TEST(uses_tcp)
{
	ck_assert(!vtp_uses_tcp(NULL, NULL));
	ck_assert(!vtp_uses_tcp("", ""));
	ck_assert(!vtp_uses_tcp("/run/postgresql", NULL));
	ck_assert(!vtp_uses_tcp("@abstract", NULL));
	ck_assert(!vtp_uses_tcp("/a,/b", NULL));
	ck_assert(!vtp_uses_tcp("/a,", ","));
	ck_assert(vtp_uses_tcp("db.example", NULL));
	ck_assert(vtp_uses_tcp("/a,db", NULL));
	ck_assert(vtp_uses_tcp("/a", "127.0.0.1"));
	ck_assert(vtp_uses_tcp("/a,/b", ",127.0.0.1"));
	ck_assert(vtp_uses_tcp(NULL, "::1"));
}
END_TEST

START_TEST(params_tcp_rule)
{
	const char *a1[] = {"conninfo=host=db dbname=vt user=pam"};
	const char *a2[] = {"conninfo=host=db dbname=vt user=pam sslmode=require"};
	const char *a3[] = {"conninfo=host=db dbname=vt user=pam sslmode=verify-full"};
	const char *a4[] = {"conninfo=host=db dbname=vt user=pam sslmode=verify-full sslrootcert=/etc/ca.pem"};
	const char *a5[] = {"conninfo=hostaddr=10.0.0.1 dbname=vt user=pam sslmode=verify-ca sslrootcert=/ca"};
	const char *a6[] = {"conninfo=host=db dbname=vt user=pam", "insecure_tcp"};
	const char *a7[] = {"conninfo=host=/run/postgresql,/tmp dbname=vt user=pam"};
	const char *a8[] = {"conninfo=host=/run/postgresql,db dbname=vt user=pam"};

	ck_assert_int_eq(build(1, a1), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "insecure_tcp"));
	ck_assert_int_eq(build(1, a2), PAM_SERVICE_ERR);
	ck_assert_int_eq(build(1, a3), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "sslrootcert"));
	ck_assert_int_eq(build(1, a4), PAM_SUCCESS);
	ck_assert_str_eq(pget("sslrootcert"), "/etc/ca.pem");
	ck_assert_int_eq(build(1, a5), PAM_SUCCESS);
	ck_assert_int_eq(build(2, a6), PAM_SUCCESS);
	ck_assert_int_eq(build(1, a7), PAM_SUCCESS);
	ck_assert_int_eq(build(1, a8), PAM_SERVICE_ERR);
	vtp_params_free(&params);
}
END_TEST

START_TEST(params_pins)
{
	const char *a1[] = {"conninfo=host=/s dbname=vt user=pam client_encoding=LATIN1 "
		"connect_timeout=0 tcp_user_timeout=999999 application_name=mine "
		"options='-c work_mem=1MB'", "timeout=3"};
	const char *a2[] = {"conninfo=host=/s tcp_user_timeout=500"};
	size_t		i;

	ck_assert_int_eq(build(2, a1), PAM_SUCCESS);
	ck_assert_str_eq(pget("client_encoding"), "UTF8");
	ck_assert_str_eq(pget("tcp_user_timeout"), "3000");
	/* Yours, untouched: the module sends no options of its own (poolers refuse them). */
	ck_assert_str_eq(pget("options"), "-c work_mem=1MB");
	ck_assert_str_eq(pget("application_name"), "mine");
	ck_assert_str_eq(pget("fallback_application_name"), "pam_vatoken");
	ck_assert_str_eq(pget("passfile"), VTP_NO_FILE);
	ck_assert_str_eq(pget("sslcert"), VTP_NO_FILE);
	ck_assert_str_eq(pget("sslkey"), VTP_NO_FILE);
	ck_assert_str_eq(pget("sslrootcert"), VTP_NO_FILE);
	ck_assert_str_eq(pget("sslcrl"), VTP_NO_FILE);
	ck_assert_str_eq(pget("port"), "5432");
	/* libpq ignores an empty value and reads the environment instead. */
	for (i = 0; i < params.n; i++)
	{
		ck_assert_msg(params.values[i] != NULL && params.values[i][0] != '\0',
					  "%s is empty", params.keywords[i]);
		ck_assert_str_ne(params.keywords[i], "service");
	}
	ck_assert_ptr_null(params.keywords[params.n]);
	ck_assert_int_eq(build(1, a2), PAM_SUCCESS);
	ck_assert_str_eq(pget("tcp_user_timeout"), "500");
	ck_assert_ptr_null(pget("options"));
	vtp_params_free(&params);
}
END_TEST

START_TEST(params_defaults_spelled_out)
{
	const char *a1[] = {"conninfo=port=5433"};
	struct passwd *pw = getpwuid(geteuid());

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(build(1, a1), PAM_SUCCESS);
	ck_assert_str_eq(pget("host"), VTP_DEFAULT_SOCKET_DIR);
	ck_assert_str_eq(pget("user"), pw->pw_name);
	ck_assert_str_eq(pget("dbname"), pw->pw_name);
	vtp_params_free(&params);
}
END_TEST

START_TEST(params_environment_ignored_or_refused)
{
	const char *a1[] = {"conninfo=dbname=vt user=pam"};
	const char *a2[] = {"conninfo=dbname=vt user=pam hostaddr=127.0.0.1", "insecure_tcp"};

	setenv("PGHOST", "/rogue", 1);
	setenv("PGDATABASE", "rogue", 1);
	setenv("PGPASSFILE", "/rogue/pgpass", 1);
	setenv("PGSSLROOTCERT", "/rogue/root.crt", 1);
	setenv("PGCLIENTENCODING", "LATIN1", 1);
	ck_assert_int_eq(build(1, a1), PAM_SUCCESS);
	ck_assert_str_eq(pget("host"), VTP_DEFAULT_SOCKET_DIR);
	ck_assert_str_eq(pget("dbname"), "vt");
	ck_assert_str_eq(pget("passfile"), VTP_NO_FILE);
	ck_assert_str_eq(pget("sslrootcert"), VTP_NO_FILE);
	ck_assert_str_eq(pget("client_encoding"), "UTF8");

	setenv("PGHOSTADDR", "10.0.0.1", 1);
	ck_assert_int_eq(build(1, a1), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "PGHOSTADDR"));
	ck_assert_int_eq(build(2, a2), PAM_SUCCESS);		/* set in conninfo: no matter */
	unsetenv("PGHOSTADDR");

	setenv("PGSERVICE", "vatoken", 1);
	ck_assert_int_eq(build(1, a1), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "PGSERVICE"));
	unsetenv("PGSERVICE");
	unsetenv("PGHOST");
	unsetenv("PGDATABASE");
	unsetenv("PGPASSFILE");
	unsetenv("PGSSLROOTCERT");
	unsetenv("PGCLIENTENCODING");
	vtp_params_free(&params);
}
END_TEST

/* Write text to a fresh temporary file; its name goes to path. */
static void
temp_file(char *path, size_t len, const char *text)
{
	int			fd;
	FILE	   *f;

	snprintf(path, len, "/tmp/vtp_unit_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(params_service_file)
{
	char		path[64];
	char		sf[96];
	char		bad[64];
	char		badsf[96];
	const char *a1[] = {"conninfo=service=vatoken dbname=explicit", sf};
	const char *a2[] = {"conninfo=service=nosuch", sf};
	const char *a3[] = {"conninfo=service=vatoken", badsf};
	const char *a4[] = {"conninfo=service=vatoken", "servicefile=/nonexistent/pg_service.conf"};

	temp_file(path, sizeof(path),
			  "# comment\n[other]\nhost=/wrong\n\n[vatoken]\n  host=/run/pg  \nport=5433\n"
			  "dbname=vt\nsslpassword=from-root-only-file\n[vatoken]\ndbname=second\n");
	snprintf(sf, sizeof(sf), "servicefile=%s", path);
	ck_assert_int_eq(build(2, a1), PAM_SUCCESS);
	ck_assert_str_eq(pget("host"), "/run/pg");
	ck_assert_str_eq(pget("port"), "5433");
	ck_assert_str_eq(pget("dbname"), "explicit");
	/* a secret may live in a file only its reader can read */
	ck_assert_str_eq(pget("sslpassword"), "from-root-only-file");
	ck_assert_int_eq(build(2, a2), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "not found"));

	temp_file(bad, sizeof(bad), "[vatoken]\nservice=other\n");
	snprintf(badsf, sizeof(badsf), "servicefile=%s", bad);
	ck_assert_int_eq(build(2, a3), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "unknown keyword"));
	unlink(bad);
	temp_file(bad, sizeof(bad), "[vatoken]\nnosuchkeyword=1\n");
	snprintf(badsf, sizeof(badsf), "servicefile=%s", bad);
	ck_assert_int_eq(build(2, a3), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "unknown keyword"));
	unlink(bad);
	temp_file(bad, sizeof(bad), "[vatoken]\nhost\n");
	snprintf(badsf, sizeof(badsf), "servicefile=%s", bad);
	ck_assert_int_eq(build(2, a3), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "syntax error"));
	unlink(bad);
	ck_assert_int_eq(build(2, a4), PAM_SERVICE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	unlink(path);
	vtp_params_free(&params);
}
END_TEST

START_TEST(user_names)
{
	ck_assert(vtp_user_ok("alice"));
	ck_assert(vtp_user_ok("\xc3\xa4lice"));		/* UTF-8 is fine */
	ck_assert(!vtp_user_ok(NULL));
	ck_assert(!vtp_user_ok(""));
	ck_assert(!vtp_user_ok("alice\r\nX-Injected: 1"));
	ck_assert(!vtp_user_ok("alice\n"));
	ck_assert(!vtp_user_ok("al\tice"));
	ck_assert(!vtp_user_ok("alice\x7f"));
	ck_assert(!vtp_user_ok("\x1b[2Jalice"));
}
END_TEST

START_TEST(export_values_cleaned)
{
	char		v[] = "ci\nfake\x1b[0m\x7f";

	vtp_export_clean(v);
	ck_assert_str_eq(v, "ci?fake?[0m?");
	vtp_export_clean(NULL);
}
END_TEST

/* ---- reply of vatoken_validate ----------------------------------------- */

static vtp_outcome
row(const char *valid, const char *status, const char *id, const char *owner,
	const char *name, vtp_result *r)
{
	const char *v[VTP_RESULT_COLUMNS] = {valid, status, id, owner, name};

	return vtp_result_from_row(1, VTP_RESULT_COLUMNS, v, r);
}

START_TEST(row_valid)
{
	vtp_result	r;

	vtp_result_init(&r);
	ck_assert_int_eq(row("t", "valid", "42", "alice", "ci", &r), VTP_OUT_VALID);
	ck_assert_int_eq(r.token_id, 42);
	ck_assert_str_eq(r.owner, "alice");
	ck_assert_str_eq(r.name, "ci");
	ck_assert_int_eq(row("t", "valid", "9223372036854775807", "alice", NULL, &r), VTP_OUT_VALID);
	ck_assert_str_eq(r.name, "");
	vtp_result_clear(&r);
	ck_assert_ptr_null(r.owner);
}
END_TEST

START_TEST(row_refusals)
{
	vtp_result	r;

	vtp_result_init(&r);
	ck_assert_int_eq(row("f", "malformed", NULL, NULL, NULL, &r), VTP_OUT_MALFORMED);
	ck_assert_int_eq(row("f", "unknown", NULL, NULL, NULL, &r), VTP_OUT_UNKNOWN);
	ck_assert_int_eq(row("f", "expired", NULL, NULL, NULL, &r), VTP_OUT_EXPIRED);
	ck_assert_int_eq(row("f", "no_such_status", NULL, NULL, NULL, &r), VTP_OUT_REJECTED);
	/* a refusal that carries an owner still is a refusal */
	ck_assert_int_eq(row("f", "unknown", "7", "alice", "x", &r), VTP_OUT_UNKNOWN);
	ck_assert_ptr_null(r.owner);
	vtp_result_clear(&r);
}
END_TEST

START_TEST(row_broken_contract_fails_closed)
{
	vtp_result	r;
	const char *v[VTP_RESULT_COLUMNS] = {"t", "valid", "1", "alice", "n"};

	vtp_result_init(&r);
	ck_assert_int_eq(row("t", "unknown", "1", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("f", "valid", "1", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("true", "valid", "1", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row(NULL, "valid", "1", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", NULL, "1", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", NULL, "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "0", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "-3", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "12x", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "99999999999999999999", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "1", NULL, "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(row("t", "valid", "1", "", "n", &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(vtp_result_from_row(0, VTP_RESULT_COLUMNS, v, &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(vtp_result_from_row(2, VTP_RESULT_COLUMNS, v, &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(vtp_result_from_row(1, 4, v, &r), VTP_OUT_UNAVAILABLE);
	ck_assert_int_eq(vtp_result_from_row(1, VTP_RESULT_COLUMNS, NULL, &r), VTP_OUT_UNAVAILABLE);
	ck_assert_ptr_null(r.owner);
}
END_TEST

/* ---- outcome -> PAM code ----------------------------------------------- */

static vtp_verdict
decide(vtp_outcome o, const char *owner, vtp_match m, const char *user)
{
	vtp_result	r;

	vtp_result_init(&r);
	r.outcome = o;
	r.owner = (char *) owner;
	r.token_id = 1;
	return vtp_decide(&r, m, user);
}

START_TEST(decide_codes)
{
	vtp_verdict v;

	v = decide(VTP_OUT_VALID, "alice", VTP_MATCH_OWNER, "alice");
	ck_assert_int_eq(v.pam_code, PAM_SUCCESS);
	ck_assert_int_eq(v.reason, VTP_R_ACCEPTED);
	v = decide(VTP_OUT_VALID, "alice", VTP_MATCH_OWNER, "bob");
	ck_assert_int_eq(v.pam_code, PAM_AUTH_ERR);
	ck_assert_int_eq(v.reason, VTP_R_OWNER_MISMATCH);
	v = decide(VTP_OUT_VALID, "alice", VTP_MATCH_OWNER, "Alice");
	ck_assert_int_eq(v.pam_code, PAM_AUTH_ERR);
	v = decide(VTP_OUT_VALID, "alice", VTP_MATCH_OWNER, NULL);
	ck_assert_int_eq(v.pam_code, PAM_AUTH_ERR);
	v = decide(VTP_OUT_VALID, "alice", VTP_MATCH_ANY, "bob");
	ck_assert_int_eq(v.pam_code, PAM_SUCCESS);
	v = decide(VTP_OUT_VALID, NULL, VTP_MATCH_ANY, "bob");
	ck_assert_int_eq(v.pam_code, PAM_AUTHINFO_UNAVAIL);
	ck_assert_int_eq(decide(VTP_OUT_MALFORMED_LOCAL, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_AUTH_ERR);
	ck_assert_int_eq(decide(VTP_OUT_MALFORMED, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_AUTH_ERR);
	ck_assert_int_eq(decide(VTP_OUT_UNKNOWN, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_AUTH_ERR);
	ck_assert_int_eq(decide(VTP_OUT_REJECTED, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_AUTH_ERR);
	ck_assert_int_eq(decide(VTP_OUT_UNAVAILABLE, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_AUTHINFO_UNAVAIL);
	ck_assert_int_eq(decide(VTP_OUT_NOMEM, NULL, VTP_MATCH_ANY, "a").pam_code, PAM_BUF_ERR);
}
END_TEST

START_TEST(acct_codes)
{
	/* No opinion after a failed or absent token authentication. */
	ck_assert_int_eq(vtp_acct_decide(false, PAM_SUCCESS, NULL, "alice"), PAM_IGNORE);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_SUCCESS, "alice", "alice"), PAM_SUCCESS);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_SUCCESS, "alice", "bob"), PAM_AUTH_ERR);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_SUCCESS, "alice", NULL), PAM_AUTH_ERR);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_AUTH_ERR, "alice", "alice"), PAM_IGNORE);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_AUTHINFO_UNAVAIL, "alice", "alice"), PAM_IGNORE);
	ck_assert_int_eq(vtp_acct_decide(true, PAM_SERVICE_ERR, "alice", "alice"), PAM_IGNORE);
}
END_TEST

START_TEST(item_errors)
{
	ck_assert_int_eq(vtp_map_item_error(PAM_BUF_ERR), PAM_BUF_ERR);
	ck_assert_int_eq(vtp_map_item_error(PAM_CONV_AGAIN), PAM_INCOMPLETE);
	ck_assert_int_eq(vtp_map_item_error(PAM_INCOMPLETE), PAM_INCOMPLETE);
	ck_assert_int_eq(vtp_map_item_error(PAM_CONV_ERR), PAM_AUTH_ERR);
	ck_assert_int_eq(vtp_map_item_error(PAM_AUTH_ERR), PAM_AUTH_ERR);
	ck_assert_int_eq(vtp_map_item_error(PAM_SYSTEM_ERR), PAM_AUTH_ERR);
}
END_TEST

/* ---- redaction, query, log lines --------------------------------------- */

START_TEST(redact_token)
{
	char		msg[256] = "bad value \"" TOKEN "\" and again " TOKEN ".";
	char		stars[] = "a**b";

	vtp_redact(msg, TOKEN);
	ck_assert_ptr_null(strstr(msg, TOKEN));
	ck_assert_ptr_nonnull(strstr(msg, "bad value \"****"));
	vtp_redact(msg, NULL);
	vtp_redact(msg, "");
	vtp_redact(stars, "**");		/* must terminate */
	ck_assert_str_eq(stars, "a**b");
}
END_TEST

/*
 * A server message longer than the log buffer, with the token where the cut
 * falls: no part of the token may survive (redaction before truncation).
 */
START_TEST(error_line_redacts_before_cut)
{
	char		msg[512];
	char		err[256];
	char		head[21];

	memset(msg, 'x', 200);
	snprintf(msg + 200, sizeof(msg) - 200, "%s\n\tdetail\x1b", TOKEN);
	vtp_error_line(err, sizeof(err), "query failed: ", msg, TOKEN);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	memcpy(head, TOKEN, 20);
	head[20] = '\0';
	ck_assert_ptr_null(strstr(err, "vat_0"));
	ck_assert_ptr_null(strstr(err, head + 4));
	ck_assert_ptr_nonnull(strstr(err, "x******"));

	/* Short: one line, control characters as spaces, trailing ones gone. */
	vtp_error_line(err, sizeof(err), "cannot connect: ", "could not\nconnect\x1b " TOKEN "\n", TOKEN);
	ck_assert_str_eq(err, "cannot connect: could not connect  "
					 "*****************************************************");
	vtp_error_line(err, sizeof(err), "p: ", NULL, TOKEN);
	ck_assert_str_eq(err, "p:");
}
END_TEST

START_TEST(query_text)
{
	char		q[VTP_QUERY_MAX];

	vtp_build_query("public", VTP_CALL_VALIDATE, q, sizeof(q));
	ck_assert_str_eq(q, "SELECT valid, status, token_id, owner, name "
					 "FROM \"public\".vatoken_validate($1::text)");
}
END_TEST

START_TEST(statement_timeout_text)
{
	char		o[24];

	vtp_statement_timeout(5, o, sizeof(o));
	ck_assert_str_eq(o, "4500ms");
	vtp_statement_timeout(1, o, sizeof(o));
	ck_assert_str_eq(o, "500ms");
}
END_TEST

START_TEST(check_unreachable_database)
{
	const char *argv[] = {"conninfo=host=/nonexistent/vatoken port=1 dbname=x"};
	vtp_result	r;

	ck_assert_int_eq(parse(1, argv), PAM_SUCCESS);
	vtp_result_init(&r);
	ck_assert_int_eq(vtp_check_token(&args, TOKEN, "203.0.113.7", &r, err, sizeof(err)),
					 VTP_OUT_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
	ck_assert_ptr_null(strstr(err, TOKEN));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(vtp_decide(&r, args.match, "alice").pam_code, PAM_AUTHINFO_UNAVAIL);
}
END_TEST

START_TEST(log_lines)
{
	char		line[VTP_LOG_LINE_MAX];
	char		longuser[200];
	vtp_result	r;
	vtp_verdict v;

	vtp_result_init(&r);
	r.outcome = VTP_OUT_VALID;
	r.token_id = 42;
	r.owner = "alice";
	r.name = "ci\nfake";
	v = vtp_decide(&r, VTP_MATCH_OWNER, "bob\nOct 1 sshd: Accepted");
	vtp_format_verdict(line, sizeof(line), "bob\nOct 1 sshd: Accepted", &v, &r, NULL);
	ck_assert_ptr_null(strchr(line, '\n'));
	ck_assert_str_eq(line, "user \"bob?Oct 1 sshd: Accepted\": token 42 (\"ci?fake\") "
					 "of owner \"alice\" refused: token owner does not match user");
	ck_assert_int_eq(vtp_verdict_priority(&v), LOG_NOTICE);

	v = vtp_decide(&r, VTP_MATCH_OWNER, "alice");
	ck_assert_int_eq(vtp_verdict_priority(&v), LOG_DEBUG);
	ck_assert(!vtp_verdict_logged(&v, false));
	ck_assert(vtp_verdict_logged(&v, true));

	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	r.outcome = VTP_OUT_UNAVAILABLE;
	v = vtp_decide(&r, VTP_MATCH_OWNER, longuser);
	vtp_format_verdict(line, sizeof(line), longuser, &v, &r, "cannot connect: refused");
	ck_assert_ptr_nonnull(strstr(line, "uuu...\": token database unavailable: cannot connect: refused"));
	ck_assert_int_eq(vtp_verdict_priority(&v), LOG_ERR);
	ck_assert(vtp_verdict_logged(&v, false));

	r.outcome = VTP_OUT_MALFORMED_LOCAL;
	v = vtp_decide(&r, VTP_MATCH_OWNER, NULL);
	vtp_format_verdict(line, sizeof(line), NULL, &v, &r, NULL);
	ck_assert_str_eq(line, "user \"(none)\": token refused: malformed token (local check)");
}
END_TEST

/* ---- 2.0: scope=, PAM_RHOST, the policy statuses ----------------------- */

START_TEST(args_scopes)
{
	const char *argv[] = {"scope=api:read", "scope=deploy", "scope=A-z_0.9:x"};

	ck_assert_int_eq(parse(0, NULL), PAM_SUCCESS);
	ck_assert_int_eq(args.nscopes, 0);
	ck_assert_int_eq(parse(3, argv), PAM_SUCCESS);
	ck_assert_int_eq(args.nscopes, 3);
	ck_assert_str_eq(args.scopes[0], "api:read");
	ck_assert_str_eq(args.scopes[1], "deploy");
	ck_assert_str_eq(args.scopes[2], "A-z_0.9:x");
}
END_TEST

START_TEST(args_bad_scopes)
{
	char		longest[120];
	const char *bad[] = {"scope=", "scope=*", "scope=ops:*", "scope=a*b", "scope=api/read",
		"scope=api read", "scope=\"x\"", "scope=a,b", "scope={a}", "scope=caf\xc3\xa9",
	"scope=a\nb", "scope=a\\b"};
	const char *argv[VTP_MAX_SCOPES + 1];
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		ck_assert_msg(parse(1, &bad[i]) == PAM_SERVICE_ERR, "accepted %s", bad[i]);
		ck_assert_str_eq(err, "bad value (expected 1 to 100 characters of A-Za-z0-9_.:-, no *): scope");
	}
	/* 100 characters is the longest */
	memcpy(longest, "scope=", 6);
	memset(longest + 6, 'a', 100);
	longest[106] = '\0';
	argv[0] = longest;
	ck_assert_int_eq(parse(1, argv), PAM_SUCCESS);
	longest[106] = 'a';
	longest[107] = '\0';
	ck_assert_int_eq(parse(1, argv), PAM_SERVICE_ERR);
	/* at most VTP_MAX_SCOPES */
	for (i = 0; i < VTP_MAX_SCOPES + 1; i++)
		argv[i] = "scope=a";
	ck_assert_int_eq(parse(VTP_MAX_SCOPES, argv), PAM_SUCCESS);
	ck_assert_int_eq(parse(VTP_MAX_SCOPES + 1, argv), PAM_SERVICE_ERR);
	ck_assert_str_eq(err, "too many (at most 32): scope");
}
END_TEST

START_TEST(client_from_rhost)
{
	char		c[VTP_CLIENT_MAX];
	const char *not_addresses[] = {"", "client.example.org", "localhost", "203.0.113.7 ",
		" 203.0.113.7", "203.0.113.7:22", "[2001:db8::1]", "fe80::1%eth0", "203.0.113.0/24",
		"203.0.113", "0x7f.1", "203.0.113.7\n", "2001:db8::1 x", "::ffff:203.0.113.7x",
	"1.2.3.4.5", "256.1.1.1"};
	size_t		i;

	ck_assert(vtp_client_from_rhost("203.0.113.7", c, sizeof(c)));
	ck_assert_str_eq(c, "203.0.113.7");
	ck_assert(vtp_client_from_rhost("2001:DB8:0:0::5", c, sizeof(c)));
	ck_assert_str_eq(c, "2001:db8::5");
	ck_assert(vtp_client_from_rhost("::ffff:203.0.113.9", c, sizeof(c)));
	ck_assert_str_eq(c, "::ffff:203.0.113.9");
	ck_assert(vtp_client_from_rhost("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", c, sizeof(c)));
	ck_assert(!vtp_client_from_rhost(NULL, c, sizeof(c)));
	ck_assert_str_eq(c, "");
	for (i = 0; i < sizeof(not_addresses) / sizeof(not_addresses[0]); i++)
	{
		strcpy(c, "x");
		ck_assert_msg(!vtp_client_from_rhost(not_addresses[i], c, sizeof(c)),
					  "took \"%s\"", not_addresses[i]);
		ck_assert_str_eq(c, "");
	}
	/* a buffer too small is no client, never a cut address */
	ck_assert(!vtp_client_from_rhost("2001:db8::5", c, 4));
}
END_TEST

START_TEST(scopes_literal)
{
	char		buf[VTP_SCOPES_LITERAL_MAX];
	const char *one[] = {"api:read"};
	const char *two[] = {"api:read", "deploy"};
	const char *many[VTP_MAX_SCOPES];
	char		longest[101];
	int			i;

	ck_assert(vtp_scopes_literal(NULL, 0, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "{}");
	ck_assert(vtp_scopes_literal(one, 1, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "{\"api:read\"}");
	ck_assert(vtp_scopes_literal(two, 2, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "{\"api:read\",\"deploy\"}");
	/* the most scope= can give fits */
	memset(longest, 'a', 100);
	longest[100] = '\0';
	for (i = 0; i < VTP_MAX_SCOPES; i++)
		many[i] = longest;
	ck_assert(vtp_scopes_literal(many, VTP_MAX_SCOPES, buf, sizeof(buf)));
	ck_assert_uint_eq(strlen(buf), (size_t) VTP_SCOPES_LITERAL_MAX - 2);
	/* too small: refused, never cut */
	ck_assert(!vtp_scopes_literal(two, 2, buf, 12));
	ck_assert(!vtp_scopes_literal(NULL, 0, buf, 2));
}
END_TEST

START_TEST(fallback_rule)
{
	ck_assert(vtp_fallback_allowed("42883", 0));
	ck_assert(vtp_fallback_allowed("42501", 0));
	ck_assert(!vtp_fallback_allowed("42883", 1));
	ck_assert(!vtp_fallback_allowed("42501", 2));
	ck_assert(!vtp_fallback_allowed("3F000", 0));	/* no such schema */
	ck_assert(!vtp_fallback_allowed("57014", 0));	/* statement_timeout */
	ck_assert(!vtp_fallback_allowed("08006", 0));
	ck_assert(!vtp_fallback_allowed(NULL, 0));
}
END_TEST

START_TEST(row_policy_statuses)
{
	vtp_result	r;
	static const struct
	{
		const char *status;
		vtp_outcome outcome;
		vtp_reason	reason;
	}			cases[] = {
		{"revoked", VTP_OUT_REVOKED, VTP_R_REVOKED},
		{"disabled", VTP_OUT_DISABLED, VTP_R_DISABLED},
		{"expired", VTP_OUT_EXPIRED, VTP_R_EXPIRED},
		{"forbidden_client", VTP_OUT_FORBIDDEN_CLIENT, VTP_R_FORBIDDEN_CLIENT},
		{"forbidden_scope", VTP_OUT_FORBIDDEN_SCOPE, VTP_R_FORBIDDEN_SCOPE},
		{"rate_limited", VTP_OUT_RATE_LIMITED, VTP_R_RATE_LIMITED},
		{"stale", VTP_OUT_STALE, VTP_R_STALE},
	};
	size_t		i;

	vtp_result_init(&r);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		vtp_verdict v;

		ck_assert_int_eq(row("f", cases[i].status, "12", "alice", "n", &r), cases[i].outcome);
		/* never an owner: nothing a refusal carries can make it a success */
		ck_assert_ptr_null(r.owner);
		v = vtp_decide(&r, VTP_MATCH_ANY, "alice");
		ck_assert_int_eq(v.pam_code, PAM_AUTH_ERR);
		ck_assert_int_eq(v.reason, cases[i].reason);
		ck_assert_str_eq(vtp_reason_name(v.reason), cases[i].status);
		ck_assert_int_eq(vtp_verdict_priority(&v), LOG_NOTICE);
		/* valid = true with any of them breaks the contract */
		ck_assert_int_eq(row("t", cases[i].status, "12", "alice", "n", &r), VTP_OUT_UNAVAILABLE);
	}
	/* the id of a found token is kept for the log; a bad one is dropped */
	ck_assert_int_eq(row("f", "expired", "12", NULL, NULL, &r), VTP_OUT_EXPIRED);
	ck_assert_int_eq(r.token_id, 12);
	ck_assert_int_eq(row("f", "expired", "12x", NULL, NULL, &r), VTP_OUT_EXPIRED);
	ck_assert_int_eq(r.token_id, 0);
	ck_assert_int_eq(row("f", "unknown", "12", NULL, NULL, &r), VTP_OUT_UNKNOWN);
	ck_assert_int_eq(r.token_id, 0);
	/* after a refusal, acct_mgmt has no opinion */
	ck_assert_int_eq(vtp_acct_decide(true, PAM_AUTH_ERR, "alice", "alice"), PAM_IGNORE);
	vtp_result_clear(&r);
}
END_TEST

START_TEST(log_lines_policy)
{
	char		line[VTP_LOG_LINE_MAX];
	vtp_result	r;
	vtp_verdict v;

	vtp_result_init(&r);
	r.outcome = VTP_OUT_EXPIRED;
	r.token_id = 12;
	v = vtp_decide(&r, VTP_MATCH_OWNER, "alice");
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: expired, token 12");
	r.outcome = VTP_OUT_REVOKED;
	r.token_id = 0;
	v = vtp_decide(&r, VTP_MATCH_OWNER, "alice");
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: revoked");

	r.outcome = VTP_OUT_FORBIDDEN_CLIENT;
	r.token_id = 3;
	ck_assert(vtp_client_from_rhost("198.51.100.1", r.client, sizeof(r.client)));
	r.has_client = true;
	v = vtp_decide(&r, VTP_MATCH_OWNER, "alice");
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: forbidden_client (client 198.51.100.1), token 3");
	r.has_client = false;
	r.client[0] = '\0';
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: forbidden_client (no client address: "
					 "PAM_RHOST unset or not an IP address), token 3");
	strcpy(r.fallback, "42883");
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: forbidden_client (no client address: "
					 "checked with vatoken_validate), token 3");

	r.outcome = VTP_OUT_FORBIDDEN_SCOPE;
	r.token_id = 0;
	v = vtp_decide(&r, VTP_MATCH_OWNER, "alice");
	vtp_format_verdict(line, sizeof(line), "alice", &v, &r, NULL);
	ck_assert_str_eq(line, "user \"alice\": token refused: forbidden_scope");
}
END_TEST

START_TEST(query_text_verify)
{
	char		q[VTP_QUERY_MAX];
	char		longest[VTP_MAX_SCHEMA_LEN + 1];

	vtp_build_query("public", VTP_CALL_VERIFY, q, sizeof(q));
	ck_assert_str_eq(q, "SELECT valid, status, token_id, owner, name "
					 "FROM \"public\".vatoken_verify($1::text, $2::text[], $3::inet)");
	memset(longest, 's', VTP_MAX_SCHEMA_LEN);
	longest[VTP_MAX_SCHEMA_LEN] = '\0';
	vtp_build_query(longest, VTP_CALL_VERIFY, q, sizeof(q));
	ck_assert_ptr_nonnull(strstr(q, "$3::inet)"));
}
END_TEST

static Suite *
pam_suite(void)
{
	Suite	   *s = suite_create("pam_vatoken");
	TCase	   *a = tcase_create("args");
	TCase	   *r = tcase_create("result");
	TCase	   *m = tcase_create("misc");

	ADD_TEST(a, args_defaults);
	ADD_TEST(a, args_all_known);
	ADD_TEST(a, args_last_wins);
	ADD_TEST(a, args_service_and_uri_accepted);
	ADD_TEST(a, args_unknown_is_service_err_without_value);
	ADD_TEST(a, args_bad_match);
	ADD_TEST(a, args_bad_schema);
	ADD_TEST(a, args_bad_timeout);
	ADD_TEST(a, args_password_refused);
	ADD_TEST(a, args_bad_conninfo);
	ADD_TEST(a, args_every_libpq_secret_refused);
	ADD_TEST(a, args_servicefile_and_insecure_tcp);
	ADD_TEST(a, uses_tcp);
	ADD_TEST(a, params_tcp_rule);
	ADD_TEST(a, params_pins);
	ADD_TEST(a, params_defaults_spelled_out);
	ADD_TEST(a, params_environment_ignored_or_refused);
	ADD_TEST(a, params_service_file);
	ADD_TEST(a, args_scopes);
	ADD_TEST(a, args_bad_scopes);
	ADD_TEST(a, client_from_rhost);
	suite_add_tcase(s, a);

	ADD_TEST(r, row_valid);
	ADD_TEST(r, row_refusals);
	ADD_TEST(r, row_broken_contract_fails_closed);
	ADD_TEST(r, decide_codes);
	ADD_TEST(r, acct_codes);
	ADD_TEST(r, item_errors);
	ADD_TEST(r, user_names);
	ADD_TEST(r, export_values_cleaned);
	ADD_TEST(r, row_policy_statuses);
	ADD_TEST(r, fallback_rule);
	suite_add_tcase(s, r);

	ADD_TEST(m, redact_token);
	ADD_TEST(m, error_line_redacts_before_cut);
	ADD_TEST(m, query_text);
	ADD_TEST(m, statement_timeout_text);
	ADD_TEST(m, check_unreachable_database);
	ADD_TEST(m, log_lines);
	ADD_TEST(m, log_lines_policy);
	ADD_TEST(m, query_text_verify);
	ADD_TEST(m, scopes_literal);
	suite_add_tcase(s, m);
	return s;
}

extern char **environ;

/* Remove every PG* variable of the caller: the tests set their own. */
static void
clear_pg_environment(void)
{
	char		name[128];
	size_t		i = 0;

	while (environ[i] != NULL)
	{
		size_t		n = strcspn(environ[i], "=");

		if (strncmp(environ[i], "PG", 2) == 0 && n < sizeof(name))
		{
			memcpy(name, environ[i], n);
			name[n] = '\0';
			unsetenv(name);
			i = 0;
			continue;
		}
		i++;
	}
}

int
main(void)
{
	SRunner    *sr;
	int			failed;

	clear_pg_environment();
	sr = srunner_create(pam_suite());

	srunner_run_all(sr, CK_SILENT);
	check_report(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
