/* test_store.c: the behavioural suite of the storage interface, one suite
 * for every backend. With ALLIANCE_TEST_DB unset it runs on SQLite files in
 * a temporary directory; tests/cli/test_store_pg.sh starts a throwaway
 * PostgreSQL cluster and runs this same binary with ALLIANCE_TEST_DB set to
 * its postgresql:// URL. Each test starts from an empty database.
 *
 * The fault tests make backend call N fail (busy, I/O error, lost
 * connection) for N = 1, 2, ... through an import and a submission until
 * the operation no longer reaches call N, and check each time that the
 * error is clean and nothing partial was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/problems.h"
#include "../../src/store/store.h"
#include "testutil.h"

static inst_lib lib;
static char dir[256];
static char url[1024];
static char keyfile[1100];
static int is_pg;
static int serial;

/* Run sql on the test database behind the store's back (to reset it, or to
 * tamper with it as an attacker with file access would). */
static void raw_sql(const char *sql)
{
	if (is_pg) {
		PGconn *c = PQconnectdb(url);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("raw sql: %s", PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db;
		assert_int_equal(sqlite3_open(url + 7, &db), SQLITE_OK);
		char *msg = NULL;
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("raw sql: %s", msg);
		sqlite3_close(db);
	}
}

/* A fresh, initialised database and key file for each test. */
static store *fresh(void)
{
	serial++;
	if (is_pg) {
		raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	} else {
		snprintf(url, sizeof url, "sqlite:%s/t%d.db", dir, serial);
	}
	snprintf(keyfile, sizeof keyfile, "%s/t%d.key", dir, serial);
	store_opts o = {.url = url, .key = keyfile, .actor = "test", .init = 1};
	store *s = NULL;
	al_err err = {0};
	if (store_open(&s, &o, &err) != AL_OK)
		fail_msg("store_open %s: %s", url, err.msg);
	return s;
}

static store *reopen(void)
{
	store_opts o = {.url = url, .key = keyfile, .actor = "test"};
	store *s = NULL;
	al_err err = {0};
	if (store_open(&s, &o, &err) != AL_OK)
		fail_msg("reopen: %s", err.msg);
	return s;
}

/* A small registry: clients A1 (two sessions), B2 (a skipped item), C3 (a
 * therapist-side instrument), in an order that is not sorted. */
static const char registry[] =
    "client_id,therapist_id,session,date,modality,instrument,item,value\n"
    "B2,T2,1,2025-02-03,phone,phq9,1,2\n"
    "B2,T2,1,2025-02-03,phone,phq9,2,\n"
    "B2,T2,1,2025-02-03,phone,phq9,3,1\n"
    "B2,T2,1,2025-02-03,phone,phq9,4,1\n"
    "B2,T2,1,2025-02-03,phone,phq9,5,0\n"
    "B2,T2,1,2025-02-03,phone,phq9,6,3\n"
    "B2,T2,1,2025-02-03,phone,phq9,7,2\n"
    "B2,T2,1,2025-02-03,phone,phq9,8,1\n"
    "B2,T2,1,2025-02-03,phone,phq9,9,0\n"
    "A1,T1,1,2025-01-06,in_person,gad7,1,3\n"
    "A1,T1,1,2025-01-06,in_person,gad7,2,3\n"
    "A1,T1,1,2025-01-06,in_person,gad7,3,2\n"
    "A1,T1,1,2025-01-06,in_person,gad7,4,2\n"
    "A1,T1,1,2025-01-06,in_person,gad7,5,1\n"
    "A1,T1,1,2025-01-06,in_person,gad7,6,1\n"
    "A1,T1,1,2025-01-06,in_person,gad7,7,0\n"
    "A1,T1,2,2025-01-13,video,gad7,1,2\n"
    "A1,T1,2,2025-01-13,video,gad7,2,2\n"
    "A1,T1,2,2025-01-13,video,gad7,3,1\n"
    "A1,T1,2,2025-01-13,video,gad7,4,1\n"
    "A1,T1,2,2025-01-13,video,gad7,5,1\n"
    "A1,T1,2,2025-01-13,video,gad7,6,0\n"
    "A1,T1,2,2025-01-13,video,gad7,7,0\n"
    "\"C,3\",T1,1,2025-03-01,in_person,gad2,1,1\n"
    "\"C,3\",T1,1,2025-03-01,in_person,gad2,2,2\n";

static al_status import_text(store *s, const char *text, int keep_going, const char *rejects,
                             store_import_stats *st, problems *pr, al_err *err)
{
	store_import_opts o = {.file = "reg.csv",
	                       .lib = &lib,
	                       .keep_going = keep_going,
	                       .rejects = rejects,
	                       .quiet = 1};
	return store_import(s, text, strlen(text), &o, st, pr, err);
}

static void import_ok(store *s, const char *text, store_import_stats *st)
{
	problems pr;
	problems_init(&pr);
	al_err err = {0};
	al_status status = import_text(s, text, 0, NULL, st, &pr, &err);
	if (status != AL_OK)
		fail_msg("import: %s (%s)", err.msg, pr.kept ? pr.msg[0] : "");
	problems_cleanup(&pr);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The export, its header dropped and its rows sorted, as one string. */
static char *export_sorted(store *s)
{
	char *buf = NULL;
	size_t len = 0, rows = 0;
	FILE *f = open_memstream(&buf, &len);
	al_err err = {0};
	if (store_export_items(s, f, &rows, &err) != AL_OK)
		fail_msg("export: %s", err.msg);
	fclose(f);
	/* sort the lines after the header */
	char *lines[256];
	size_t n = 0;
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l && n < 256; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	assert_true(n >= 1);
	qsort(lines + 1, n - 1, sizeof *lines, cmp_line);
	size_t cap = len + n + 1;
	char *out = malloc(cap), *o = out;
	for (size_t i = 1; i < n; i++)
		o += sprintf(o, "%s\n", *(lines + i));
	*o = '\0';
	free(buf);
	return out;
}

/* The registry's data rows sorted the same way. */
static char *registry_sorted(const char *text)
{
	char *copy = strdup(text), *lines[256], *save = NULL;
	size_t n = 0;
	for (char *l = strtok_r(copy, "\n", &save); l && n < 256; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines + 1, n - 1, sizeof *lines, cmp_line);
	char *out = malloc(strlen(text) + 1), *o = out;
	for (size_t i = 1; i < n; i++)
		o += sprintf(o, "%s\n", lines[i]);
	*o = '\0';
	free(copy);
	return out;
}

static store_counts counts(store *s)
{
	store_counts c;
	al_err err = {0};
	if (store_count(s, &c, &err) != AL_OK)
		fail_msg("count: %s", err.msg);
	return c;
}

static int same_counts(const store_counts *a, const store_counts *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

/* ---- schema and opening ---------------------------------------------------- */

static void test_init_and_reopen(void **state)
{
	(void)state;
	store *s = fresh();
	int v = 0;
	al_err err = {0};
	assert_int_equal(store_schema_version(s, &v, &err), AL_OK);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	store_close(s);
	/* init again: an upgrade with nothing to do */
	store_opts o = {.url = url, .key = keyfile, .init = 1};
	assert_int_equal(store_open(&s, &o, &err), AL_OK);
	store_close(s);
	s = reopen();
	store_close(s);
	struct stat sb;
	assert_int_equal(stat(keyfile, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	if (!is_pg) {
		/* a missing file is not silently created without init */
		char missing[512];
		snprintf(missing, sizeof missing, "%s/missing.db", dir);
		store_opts m = {.url = missing};
		al_err e2 = {0};
		assert_int_equal(store_open(&s, &m, &e2), AL_ENOTFOUND);
		assert_non_null(strstr(e2.msg, "alliance init"));
		/* a newer schema than the program knows is refused */
		raw_sql("INSERT INTO schema_version VALUES (99, 'future')");
		al_err e3 = {0};
		store_opts r = {.url = url, .key = keyfile};
		assert_int_equal(store_open(&s, &r, &e3), AL_ESTORE);
		assert_non_null(strstr(e3.msg, "newer"));
	}
}

static void test_wrong_key_refused(void **state)
{
	(void)state;
	store *s = fresh();
	store_close(s);
	char other[1200];
	snprintf(other, sizeof other, "%s.other", keyfile);
	FILE *f = fopen(other, "w");
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	store_opts o = {.url = url, .key = other};
	al_err err = {0};
	assert_int_equal(store_open(&s, &o, &err), AL_EAUTH);
	assert_non_null(strstr(err.msg, "does not belong"));
}

/* ---- import and export ---------------------------------------------------------- */

static void test_import_export_round_trip(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	assert_int_equal(st.rows, 25);
	assert_int_equal(st.admins, 4);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.clients_added, 3);
	store_counts c = counts(s);
	assert_int_equal(c.clients, 3);
	assert_int_equal(c.users, 2);
	assert_int_equal(c.sessions, 4);
	assert_int_equal(c.admins, 4);
	assert_int_equal(c.answers, 4);
	assert_true(c.scores >= 4);
	char *want = registry_sorted(registry), *got = export_sorted(s);
	assert_string_equal(got, want);
	free(want);
	free(got);
	store_close(s);
}

static void test_reimport_changes_nothing(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	store_counts before = counts(s);
	import_ok(s, registry, &st);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.present, 4);
	assert_int_equal(st.clients_added, 0);
	store_counts after = counts(s);
	after.audit = before.audit; /* the second import is itself audited */
	assert_true(same_counts(&before, &after));
	store_close(s);
}

static void test_import_all_or_nothing(void **state)
{
	(void)state;
	store *s = fresh();
	char *bad = malloc(sizeof registry + 64);
	sprintf(bad, "%sZ9,T1,1,2025-02-30,in_person,phq9,1,1\n", registry);
	problems pr;
	problems_init(&pr);
	store_import_stats st;
	al_err err = {0};
	assert_int_equal(import_text(s, bad, 0, NULL, &st, &pr, &err), AL_EINPUT);
	assert_int_equal(pr.total, 1);
	assert_non_null(strstr(pr.msg[0], "reg.csv:27: column date"));
	store_counts c = counts(s);
	assert_int_equal(c.clients, 0);
	assert_int_equal(c.admins, 0);
	assert_int_equal(c.users, 0);
	problems_cleanup(&pr);
	/* conflicting rows of one administration name both lines */
	sprintf(bad, "%sB2,T9,1,2025-02-03,phone,phq9,9,0\n", registry);
	problems_init(&pr);
	al_err e2 = {0};
	assert_int_equal(import_text(s, bad, 0, NULL, &st, &pr, &e2), AL_EINPUT);
	assert_true(pr.total >= 1);
	assert_int_equal(counts(s).admins, 0);
	problems_cleanup(&pr);
	free(bad);
	store_close(s);
}

static void test_import_keep_going(void **state)
{
	(void)state;
	store *s = fresh();
	char *bad = malloc(sizeof registry + 128);
	sprintf(bad, "%sZ9,T1,1,2025-02-30,in_person,phq9,1,1\nY8,T1,x,2025-02-01,video,gad2,1,1\n",
	        registry);
	char rejects[512];
	snprintf(rejects, sizeof rejects, "%s/rejects%d.csv", dir, serial);
	problems pr;
	problems_init(&pr);
	store_import_stats st;
	al_err err = {0};
	assert_int_equal(import_text(s, bad, 1, rejects, &st, &pr, &err), AL_OK);
	assert_int_equal(pr.total, 2);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.rejected_rows, 2);
	FILE *f = fopen(rejects, "r");
	assert_non_null(f);
	char text[512] = {0};
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	assert_true(n > 0);
	assert_string_equal(text,
	                    "client_id,therapist_id,session,date,modality,instrument,item,value\n"
	                    "Z9,T1,1,2025-02-30,in_person,phq9,1,1\n"
	                    "Y8,T1,x,2025-02-01,video,gad2,1,1\n");
	problems_cleanup(&pr);
	free(bad);
	store_close(s);
}

/* A bad answer rejects its whole administration, not just its row. */
static void test_import_keep_going_rejects_whole_administration(void **state)
{
	(void)state;
	store *s = fresh();
	char *bad = strdup(registry);
	char *p = strstr(bad, "B2,T2,1,2025-02-03,phone,phq9,6,3");
	p[strlen("B2,T2,1,2025-02-03,phone,phq9,6,")] = '7'; /* out of range */
	char rejects[512];
	snprintf(rejects, sizeof rejects, "%s/rejects%d.csv", dir, serial);
	problems pr;
	problems_init(&pr);
	store_import_stats st;
	al_err err = {0};
	assert_int_equal(import_text(s, bad, 1, rejects, &st, &pr, &err), AL_OK);
	assert_int_equal(pr.total, 1);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.rejected_rows, 9);
	store_counts c = counts(s);
	assert_int_equal(c.admins, 3);
	assert_int_equal(c.clients, 2);
	problems_cleanup(&pr);
	free(bad);
	store_close(s);
}

static void test_import_scores(void **state)
{
	(void)state;
	store *s = fresh();
	static const char scores[] =
	    "client_id,therapist_id,session,date,modality,instrument,score,scale\n"
	    "A1,T1,1,2025-01-06,in_person,phq9,14,total\n"
	    "A1,T1,2,2025-01-13,in_person,phq9,9,total\n"
	    "B2,T1,1,2025-01-07,video,wai_sr,3.5,total\n";
	store_import_stats st;
	import_ok(s, scores, &st);
	assert_int_equal(st.added, 3);
	store_counts c = counts(s);
	assert_int_equal(c.admins, 3);
	assert_int_equal(c.scores, 3);
	assert_int_equal(c.answers, 0);
	import_ok(s, scores, &st);
	assert_int_equal(st.added, 0);
	assert_int_equal(counts(s).scores, 3);
	store_close(s);
}

/* ---- a check-in ------------------------------------------------------------------- */

static const int phq9_risk[9] = {2, 2, 1, 3, 1, 2, 1, 0, 2};

static al_status submit(store *s, int session, int *alerts, al_err *err)
{
	store_submission sub = {.client = "A1",
	                        .session = session,
	                        .date = "2025-01-20",
	                        .mod = MOD_VIDEO,
	                        .inst = tu_find(&lib, "phq9"),
	                        .values = phq9_risk,
	                        .source = SRC_LINK};
	return store_submit(s, &sub, alerts, err);
}

static void test_submit_raises_alert(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	store_counts before = counts(s);
	int alerts = 0;
	al_err err = {0};
	assert_int_equal(submit(s, 3, &alerts, &err), AL_OK);
	assert_int_equal(alerts, 1);
	store_counts after = counts(s);
	assert_int_equal(after.admins, before.admins + 1);
	assert_int_equal(after.sessions, before.sessions + 1);
	assert_int_equal(after.alerts, 1);
	assert_int_equal(after.scores, before.scores + 1);
	/* the same administration twice is refused and changes nothing */
	al_err e2 = {0};
	assert_int_equal(submit(s, 3, &alerts, &e2), AL_EINPUT);
	assert_non_null(strstr(e2.msg, "already recorded"));
	store_counts again = counts(s);
	assert_true(same_counts(&after, &again));
	/* an unknown client */
	store_submission sub = {.client = "nobody",
	                        .session = 1,
	                        .date = "2025-01-20",
	                        .inst = tu_find(&lib, "phq9"),
	                        .values = phq9_risk};
	al_err e3 = {0};
	assert_int_equal(store_submit(s, &sub, NULL, &e3), AL_ENOTFOUND);
	store_close(s);
}

/* ---- encryption at rest ------------------------------------------------------------- */

static int file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	size_t got = fread(b, 1, (size_t)n, f);
	fclose(f);
	size_t k = strlen(needle);
	int found = 0;
	for (size_t i = 0; !found && i + k <= got; i++)
		found = memcmp(b + i, needle, k) == 0;
	free(b);
	return found;
}

static void test_notes_encrypted_and_versioned(void **state)
{
	(void)state;
	store *s = fresh();
	static const char secret[] = "Talked about the brother's accident, first time";
	static const char edited[] = "Talked about the brother's accident; asked to revisit";
	static const char name[] = "Josephine Quarrington";
	al_err err = {0};
	int64_t ther, client, note = 0;
	assert_int_equal(store_user_ensure(s, "dr.who", ROLE_THERAPIST, &ther, &err), AL_OK);
	assert_int_equal(store_client_ensure(s, "K7", 2, ther, name, &client, &err), AL_OK);
	assert_int_equal(store_note_write(s, "K7", ther, secret, &note, &err), AL_OK);
	assert_true(note > 0);
	int64_t same = note;
	assert_int_equal(store_note_write(s, "K7", ther, edited, &same, &err), AL_OK);
	assert_int_equal(same, note);
	char *text = NULL;
	int version = 0;
	assert_int_equal(store_note_read(s, note, &text, &version, &err), AL_OK);
	assert_string_equal(text, edited);
	assert_int_equal(version, 2);
	free(text);
	assert_int_equal(counts(s).notes, 2); /* the edit kept the first version */
	char got[128];
	assert_int_equal(store_client_name(s, "K7", got, sizeof got, &err), AL_OK);
	assert_string_equal(got, name);
	if (!is_pg) {
		char wal[1100];
		snprintf(wal, sizeof wal, "%s-wal", url + 7);
		assert_false(file_contains(url + 7, "brother"));
		assert_false(file_contains(wal, "brother"));
		assert_false(file_contains(url + 7, "Quarrington"));
		assert_false(file_contains(wal, "Quarrington"));
		assert_true(file_contains(url + 7, "K7") || file_contains(wal, "K7"));
	}
	/* rotate the key: everything still reads, with the new key only */
	char before[80] = {0}, after[80] = {0};
	FILE *f = fopen(keyfile, "r");
	assert_non_null(fgets(before, sizeof before, f));
	fclose(f);
	assert_int_equal(store_key_rotate(s, &err), AL_OK);
	f = fopen(keyfile, "r");
	assert_non_null(fgets(after, sizeof after, f));
	fclose(f);
	assert_string_not_equal(before, after);
	store_close(s);
	s = reopen();
	assert_int_equal(store_note_read(s, note, &text, &version, &err), AL_OK);
	assert_string_equal(text, edited);
	free(text);
	assert_int_equal(store_client_name(s, "K7", got, sizeof got, &err), AL_OK);
	assert_string_equal(got, name);
	store_close(s);
}

/* A second connection opened before a key rotation still holds the old key:
 * what it seals afterwards must not be written under a key nobody has. */
static void test_seal_after_rotation_elsewhere(void **state)
{
	(void)state;
	store *s = fresh();
	al_err err = {0};
	int64_t ther, client, note = 0;
	assert_int_equal(store_user_ensure(s, "dr.who", ROLE_THERAPIST, &ther, &err), AL_OK);
	assert_int_equal(store_client_ensure(s, "K7", 2, ther, NULL, &client, &err), AL_OK);
	store *old = reopen();
	assert_int_equal(store_key_rotate(s, &err), AL_OK);
	store_close(s);
	al_err e2 = {0};
	al_status wrote = store_note_write(old, "K7", ther, "written with the old key", &note, &e2);
	al_err e3 = {0};
	int64_t other;
	al_status named = store_client_ensure(old, "K8", 2, ther, "Old Key", &other, &e3);
	store_close(old);
	s = reopen();
	if (wrote == AL_OK) {
		char *text = NULL;
		int version;
		assert_int_equal(store_note_read(s, note, &text, &version, &err), AL_OK);
		free(text);
	} else {
		assert_int_equal(wrote, AL_EAUTH);
	}
	if (named == AL_OK) {
		char got[64];
		assert_int_equal(store_client_name(s, "K8", got, sizeof got, &err), AL_OK);
	} else {
		assert_int_equal(named, AL_EAUTH);
	}
	store_close(s);
}

/* ---- the audit log ------------------------------------------------------------------- */

static void test_audit_chain_detects_tampering(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	int alerts;
	al_err err = {0};
	assert_int_equal(submit(s, 3, &alerts, &err), AL_OK);
	char buf[64];
	assert_int_equal(store_client_name(s, "A1", buf, sizeof buf, &err), AL_OK);
	long n = 0;
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	/* two therapists added, the import, the submission, the read */
	assert_int_equal(n, 5);
	store_close(s);
	raw_sql("UPDATE audit_log SET actor = 'someone else' WHERE seq = 4");
	s = reopen();
	al_err e2 = {0};
	assert_int_equal(store_audit_verify(s, &n, &e2), AL_ESTORE);
	assert_int_equal(n, 3);
	assert_non_null(strstr(e2.msg, "entry 4"));
	assert_non_null(strstr(e2.msg, "altered"));
	store_close(s);
	raw_sql("DELETE FROM audit_log WHERE seq = 4");
	s = reopen();
	al_err e3 = {0};
	assert_int_equal(store_audit_verify(s, &n, &e3), AL_ESTORE);
	assert_non_null(strstr(e3.msg, "missing"));
	store_close(s);
}

/* Removing the newest entries (the read someone wants to hide) leaves an
 * intact-looking chain: the counter of the practice's entries says how many
 * there must be. */
static void test_audit_verify_finds_removed_last_entries(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	char buf[64];
	al_err err = {0};
	assert_int_equal(store_client_name(s, "A1", buf, sizeof buf, &err), AL_OK);
	long n = 0;
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	assert_int_equal(n, 4);
	store_close(s);
	raw_sql("DELETE FROM audit_log WHERE seq = 4");
	s = reopen();
	al_err e2 = {0};
	assert_int_equal(store_audit_verify(s, &n, &e2), AL_ESTORE);
	assert_non_null(strstr(e2.msg, "missing"));
	store_close(s);
}

/* ---- backup and restore -------------------------------------------------------------------- */

static void test_backup_restore_round_trip(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	char *want = export_sorted(s);
	char path[512];
	snprintf(path, sizeof path, "%s/backup%d", dir, serial);
	al_err err = {0};
	if (store_backup(s, path, &err) != AL_OK)
		fail_msg("backup: %s", err.msg);
	int alerts;
	assert_int_equal(submit(s, 3, &alerts, &err), AL_OK);
	store_counts changed = counts(s);
	if (store_restore(s, path, &err) != AL_OK)
		fail_msg("restore: %s", err.msg);
	store_close(s);
	s = reopen();
	char *got = export_sorted(s);
	assert_string_equal(got, want);
	store_counts c = counts(s);
	assert_int_equal(c.admins, changed.admins - 1);
	assert_int_equal(c.alerts, 0);
	long n;
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	/* the restored database carries on: ids reserved after it do not clash */
	assert_int_equal(submit(s, 3, &alerts, &err), AL_OK);
	free(want);
	free(got);
	store_close(s);
}

/* A file that is not a backup of this database (empty, or some other
 * database) is refused before anything is replaced. */
static void test_restore_refuses_a_file_that_is_not_a_backup(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	store_counts want = counts(s);
	char path[512];
	snprintf(path, sizeof path, "%s/empty%d", dir, serial);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	al_err err = {0};
	assert_int_not_equal(store_restore(s, path, &err), AL_OK);
	store_close(s);
	s = reopen();
	store_counts got = counts(s);
	assert_int_equal(got.admins, want.admins);
	assert_int_equal(got.answers, want.answers);
	long n;
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	store_close(s);
}

/* A backup made before a key rotation needs the key the rotation replaced:
 * restoring it over the live database would leave a database no command can
 * open (not even a second restore) with its notes unreadable. Refused. */
static void test_restore_refuses_a_backup_of_another_key(void **state)
{
	(void)state;
	store *s = fresh();
	store_import_stats st;
	import_ok(s, registry, &st);
	char path[512];
	snprintf(path, sizeof path, "%s/prerotation%d", dir, serial);
	al_err err = {0};
	if (store_backup(s, path, &err) != AL_OK)
		fail_msg("backup: %s", err.msg);
	assert_int_equal(store_key_rotate(s, &err), AL_OK);
	al_err e2 = {0};
	assert_int_equal(store_restore(s, path, &e2), AL_EAUTH);
	assert_non_null(strstr(e2.msg, "key"));
	store_close(s);
	s = reopen(); /* fails the test when the database no longer opens */
	long n;
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	store_close(s);
}

/* ---- one writer, concurrent readers ------------------------------------------------------ */

static void test_one_writer_readers_concurrent(void **state)
{
	(void)state;
	store *w = fresh();
	store_import_stats st;
	import_ok(w, registry, &st);
	store_opts o = {.url = url, .key = keyfile, .actor = "second", .busy_ms = 100};
	store *r = NULL;
	al_err err = {0};
	assert_int_equal(store_open(&r, &o, &err), AL_OK);
	/* the first holds an open write transaction */
	assert_int_equal(store_begin(w, &err), AL_OK);
	assert_int_equal(store_audit(w, "test", "lock", "held", &err), AL_OK);
	/* a reader is not blocked, and sees the last committed state */
	store_counts c = counts(r);
	assert_int_equal(c.admins, 4);
	if (!is_pg) {
		/* a second writer waits busy_ms, then gets AL_EBUSY and writes nothing */
		int alerts;
		al_err e2 = {0};
		assert_int_equal(submit(r, 3, &alerts, &e2), AL_EBUSY);
		assert_int_equal(counts(r).admins, 4);
	}
	store_rollback(w);
	int alerts;
	assert_int_equal(submit(r, 3, &alerts, &err), AL_OK);
	assert_int_equal(counts(w).admins, 5);
	store_close(r);
	store_close(w);
}

/* ---- fault injection ----------------------------------------------------------------------- */

typedef al_status (*op_fn)(store *s, al_err *err);

static al_status op_import(store *s, al_err *err)
{
	problems pr;
	problems_init(&pr);
	store_import_stats st;
	al_status status = import_text(s, registry, 0, NULL, &st, &pr, err);
	problems_cleanup(&pr);
	return status;
}

static al_status op_submit(store *s, al_err *err)
{
	int alerts;
	return submit(s, 3, &alerts, err);
}

static al_status op_note(store *s, al_err *err)
{
	int64_t note = 0;
	return store_note_write(s, "A1", 1, "a note", &note, err);
}

/* Fail call N = 1, 2, ... of op until op no longer reaches call N; every
 * failure must be the injected one and leave the counts unchanged. */
static void fault_loop(store *s, op_fn op, al_status how, int sticky, const char *name)
{
	store_counts before = counts(s);
	long n;
	for (n = 1;; n++) {
		store_fault_arm(s, n, how, sticky);
		al_err err = {0};
		al_status st = op(s, &err);
		long calls = store_fault_calls(s);
		store_fault_arm(s, 0, AL_OK, 0);
		if (st == AL_OK) {
			if (calls >= n)
				fail_msg("%s: call %ld failed but the operation succeeded", name,
				         n);
			break;
		}
		if (st != (sticky ? AL_ESTORE : how) || strstr(err.msg, "injected") == NULL)
			fail_msg("%s: call %ld: unexpected %s: %s", name, n, al_status_str(st),
			         err.msg);
		store_counts now = counts(s);
		if (!same_counts(&before, &now))
			fail_msg("%s: call %ld failed and left partial data", name, n);
		assert_true(n < 10000);
	}
	assert_true(n > 3);
	printf("# %s: %ld failure points, each clean\n", name, n - 1);
	store_counts after = counts(s);
	assert_false(same_counts(&before, &after));
}

static void faults(al_status how, int sticky, const char *name)
{
	store *s = fresh();
	char what[64];
	snprintf(what, sizeof what, "import, %s", name);
	fault_loop(s, op_import, how, sticky, what);
	snprintf(what, sizeof what, "submission, %s", name);
	fault_loop(s, op_submit, how, sticky, what);
	snprintf(what, sizeof what, "note, %s", name);
	fault_loop(s, op_note, how, sticky, what);
	long n;
	al_err err = {0};
	assert_int_equal(store_audit_verify(s, &n, &err), AL_OK);
	store_close(s);
}

static void test_faults_busy(void **state)
{
	(void)state;
	faults(AL_EBUSY, 0, "busy");
}

static void test_faults_io(void **state)
{
	(void)state;
	faults(AL_ESTORE, 0, "I/O error");
}

static void test_faults_lost_connection(void **state)
{
	(void)state;
	faults(AL_ESTORE, 1, "lost connection");
}

static int setup(void **state)
{
	(void)state;
	tu_load_shipped(&lib);
	snprintf(dir, sizeof dir, "/tmp/alliance-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	const char *u = getenv("ALLIANCE_TEST_DB");
	if (u != NULL && u[0] != '\0') {
		snprintf(url, sizeof url, "%s", u);
		is_pg = 1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	inst_lib_cleanup(&lib);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* pg_dump and pg_restore get the database without its password on their
 * command line (which every local user can read in /proc); the password
 * goes through their environment. No server is needed for this. */
static void test_pg_password_not_on_command_line(void **state)
{
	(void)state;
	char info[1024], pw[128];
	al_err err = {0};
	assert_int_equal(store_pg_split_password("postgresql://ana:s3cr'et@db.example:5433/clinic",
	                                         info, sizeof info, pw, sizeof pw, &err),
	                 AL_OK);
	assert_string_equal(pw, "s3cr'et");
	assert_null(strstr(info, "s3cr"));
	assert_non_null(strstr(info, "user='ana'"));
	assert_non_null(strstr(info, "host='db.example'"));
	assert_non_null(strstr(info, "port='5433'"));
	assert_non_null(strstr(info, "dbname='clinic'"));
	assert_int_equal(
	    store_pg_split_password("host=/tmp/x dbname=a", info, sizeof info, pw, sizeof pw, &err),
	    AL_OK);
	assert_string_equal(pw, "");
	assert_non_null(strstr(info, "host='/tmp/x'"));
	assert_int_equal(
	    store_pg_split_password("postgresql://[oops", info, sizeof info, pw, sizeof pw, &err),
	    AL_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_and_reopen),
	    cmocka_unit_test(test_pg_password_not_on_command_line),
	    cmocka_unit_test(test_wrong_key_refused),
	    cmocka_unit_test(test_import_export_round_trip),
	    cmocka_unit_test(test_reimport_changes_nothing),
	    cmocka_unit_test(test_import_all_or_nothing),
	    cmocka_unit_test(test_import_keep_going),
	    cmocka_unit_test(test_import_keep_going_rejects_whole_administration),
	    cmocka_unit_test(test_import_scores),
	    cmocka_unit_test(test_submit_raises_alert),
	    cmocka_unit_test(test_notes_encrypted_and_versioned),
	    cmocka_unit_test(test_seal_after_rotation_elsewhere),
	    cmocka_unit_test(test_audit_chain_detects_tampering),
	    cmocka_unit_test(test_audit_verify_finds_removed_last_entries),
	    cmocka_unit_test(test_backup_restore_round_trip),
	    cmocka_unit_test(test_restore_refuses_a_file_that_is_not_a_backup),
	    cmocka_unit_test(test_restore_refuses_a_backup_of_another_key),
	    cmocka_unit_test(test_one_writer_readers_concurrent),
	    cmocka_unit_test(test_faults_busy),
	    cmocka_unit_test(test_faults_io),
	    cmocka_unit_test(test_faults_lost_connection),
	};
	return cmocka_run_group_tests_name(getenv("ALLIANCE_TEST_DB") ? "store (postgresql)"
	                                                              : "store (sqlite)",
	                                   tests, setup, teardown);
}
