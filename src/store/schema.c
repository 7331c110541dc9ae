/* schema.c: the numbered, forward-only migrations of the practice database.
 *
 * Migration N takes the schema from version N-1 to N and is never edited
 * once released: a change is a new migration appended to the list. Each
 * runs in its own transaction together with the row that records it in
 * schema_version, so a failed upgrade leaves the previous version intact.
 *
 * The SQL is the subset SQLite and PostgreSQL both accept; "@BLOB" stands
 * for the engine's byte-string type. Every table carries practice_id, and
 * every primary, unique and foreign key includes it, so the schema runs
 * unchanged on Citus with practice_id as the distribution column (see
 * docs/SCALING.md). schema_version and meta are the only tables without it:
 * on Citus they are reference tables. Identifiers are allocated per practice
 * from counters (store.c), not by the engine, because a composite key gets
 * no automatic id in SQLite and a distributed sequence is a bottleneck. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const migrations[] = {
    /* 1: the whole data model of issue 5 */
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE practices (practice_id BIGINT PRIMARY KEY, name TEXT NOT NULL,\n"
    "  created_at TEXT NOT NULL);\n"
    "CREATE TABLE counters (practice_id BIGINT NOT NULL REFERENCES practices (practice_id),\n"
    "  name TEXT NOT NULL, next_id BIGINT NOT NULL, PRIMARY KEY (practice_id, name));\n"
    "CREATE TABLE users (practice_id BIGINT NOT NULL REFERENCES practices (practice_id),\n"
    "  user_id BIGINT NOT NULL, login TEXT NOT NULL,\n"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'therapist', 'supervisor')),\n"
    "  created_at TEXT NOT NULL,\n"
    "  PRIMARY KEY (practice_id, user_id), UNIQUE (practice_id, login));\n"
    "CREATE TABLE supervision (practice_id BIGINT NOT NULL, supervisor_id BIGINT NOT NULL,\n"
    "  supervisee_id BIGINT NOT NULL, PRIMARY KEY (practice_id, supervisor_id, supervisee_id),\n"
    "  FOREIGN KEY (practice_id, supervisor_id) REFERENCES users (practice_id, user_id),\n"
    "  FOREIGN KEY (practice_id, supervisee_id) REFERENCES users (practice_id, user_id));\n"
    "CREATE TABLE clients (practice_id BIGINT NOT NULL REFERENCES practices (practice_id),\n"
    "  client_id BIGINT NOT NULL, code TEXT NOT NULL,\n"
    "  display_name @BLOB,\n"
    "  status TEXT NOT NULL DEFAULT 'active'\n"
    "    CHECK (status IN ('waiting', 'active', 'discharged', 'archived')),\n"
    "  therapist_id BIGINT,\n"
    "  consent_measures INTEGER NOT NULL DEFAULT 1,\n"
    "  consent_research INTEGER NOT NULL DEFAULT 0,\n"
    "  data_sharing TEXT NOT NULL DEFAULT 'none'\n"
    "    CHECK (data_sharing IN ('none', 'service', 'research')),\n"
    "  created_at TEXT NOT NULL,\n"
    "  PRIMARY KEY (practice_id, client_id), UNIQUE (practice_id, code),\n"
    "  FOREIGN KEY (practice_id, therapist_id) REFERENCES users (practice_id, user_id));\n"
    "CREATE TABLE courses (practice_id BIGINT NOT NULL, course_id BIGINT NOT NULL,\n"
    "  client_id BIGINT NOT NULL, therapist_id BIGINT,\n"
    "  started_on TEXT NOT NULL, ended_on TEXT,\n"
    "  end_reason TEXT CHECK (end_reason IN ('completed', 'dropped_out', 'referred_on')),\n"
    "  PRIMARY KEY (practice_id, course_id),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id),\n"
    "  FOREIGN KEY (practice_id, therapist_id) REFERENCES users (practice_id, user_id));\n"
    "CREATE INDEX courses_client ON courses (practice_id, client_id, course_id);\n"
    "CREATE TABLE sessions (practice_id BIGINT NOT NULL, session_id BIGINT NOT NULL,\n"
    "  course_id BIGINT NOT NULL, number INTEGER NOT NULL CHECK (number >= 1),\n"
    "  held_on TEXT NOT NULL,\n"
    "  modality TEXT NOT NULL CHECK (modality IN ('in_person', 'video', 'phone')),\n"
    "  attended INTEGER NOT NULL DEFAULT 1, therapist_id BIGINT,\n"
    "  PRIMARY KEY (practice_id, session_id), UNIQUE (practice_id, course_id, number),\n"
    "  FOREIGN KEY (practice_id, course_id) REFERENCES courses (practice_id, course_id),\n"
    "  FOREIGN KEY (practice_id, therapist_id) REFERENCES users (practice_id, user_id));\n"
    "CREATE TABLE administrations (practice_id BIGINT NOT NULL, admin_id BIGINT NOT NULL,\n"
    "  client_id BIGINT NOT NULL, session_id BIGINT NOT NULL,\n"
    "  instrument TEXT NOT NULL, instrument_version TEXT NOT NULL,\n"
    "  respondent TEXT NOT NULL CHECK (respondent IN ('client', 'therapist')),\n"
    "  timing TEXT NOT NULL CHECK (timing IN ('before', 'after')),\n"
    "  source TEXT NOT NULL CHECK (source IN ('link', 'kiosk', 'staff', 'import')),\n"
    "  submitted_at TEXT NOT NULL,\n"
    "  PRIMARY KEY (practice_id, admin_id),\n"
    "  UNIQUE (practice_id, session_id, instrument, timing),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id),\n"
    "  FOREIGN KEY (practice_id, session_id) REFERENCES sessions (practice_id, session_id));\n"
    "CREATE INDEX administrations_client ON administrations (practice_id, client_id);\n"
    /* One row per administration: the answers as a comma-separated list in
     * item order, empty where skipped ("1,0,,3"). Per-item rows cost 17x the
     * insert time and 4.7x the space on the 100,000-client registry
     * (docs/BENCHMARKS.md, "## Import"). */
    "CREATE TABLE item_answers (practice_id BIGINT NOT NULL, admin_id BIGINT NOT NULL,\n"
    "  answers TEXT NOT NULL, PRIMARY KEY (practice_id, admin_id),\n"
    "  FOREIGN KEY (practice_id, admin_id) REFERENCES administrations (practice_id, admin_id));\n"
    "CREATE TABLE scores (practice_id BIGINT NOT NULL, admin_id BIGINT NOT NULL,\n"
    "  scale TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, band TEXT,\n"
    "  PRIMARY KEY (practice_id, admin_id, scale),\n"
    "  FOREIGN KEY (practice_id, admin_id) REFERENCES administrations (practice_id, admin_id));\n"
    "CREATE TABLE goals (practice_id BIGINT NOT NULL, goal_id BIGINT NOT NULL,\n"
    "  client_id BIGINT NOT NULL, course_id BIGINT, title @BLOB NOT NULL,\n"
    "  set_on TEXT NOT NULL, achieved_on TEXT,\n"
    "  PRIMARY KEY (practice_id, goal_id),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id),\n"
    "  FOREIGN KEY (practice_id, course_id) REFERENCES courses (practice_id, course_id));\n"
    "CREATE TABLE notes (practice_id BIGINT NOT NULL, note_id BIGINT NOT NULL,\n"
    "  version INTEGER NOT NULL, client_id BIGINT NOT NULL, author_id BIGINT NOT NULL,\n"
    "  written_at TEXT NOT NULL, body @BLOB NOT NULL,\n"
    "  PRIMARY KEY (practice_id, note_id, version),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id),\n"
    "  FOREIGN KEY (practice_id, author_id) REFERENCES users (practice_id, user_id));\n"
    "CREATE TABLE relational_ratings (practice_id BIGINT NOT NULL, rating_id BIGINT NOT NULL,\n"
    "  session_id BIGINT NOT NULL,\n"
    "  rater TEXT NOT NULL CHECK (rater IN ('client', 'therapist', 'observer')),\n"
    "  dimension TEXT NOT NULL, value DOUBLE PRECISION,\n"
    "  PRIMARY KEY (practice_id, rating_id),\n"
    "  FOREIGN KEY (practice_id, session_id) REFERENCES sessions (practice_id, session_id));\n"
    "CREATE TABLE alerts (practice_id BIGINT NOT NULL, alert_id BIGINT NOT NULL,\n"
    "  client_id BIGINT NOT NULL, admin_id BIGINT, kind TEXT NOT NULL,\n"
    "  trigger_text TEXT NOT NULL, raised_at TEXT NOT NULL,\n"
    "  acknowledged_by BIGINT, acknowledged_at TEXT, action_taken TEXT,\n"
    "  PRIMARY KEY (practice_id, alert_id),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id),\n"
    "  FOREIGN KEY (practice_id, admin_id) REFERENCES administrations (practice_id, admin_id),\n"
    "  FOREIGN KEY (practice_id, acknowledged_by) REFERENCES users (practice_id, user_id));\n"
    "CREATE TABLE checkin_links (practice_id BIGINT NOT NULL, link_id BIGINT NOT NULL,\n"
    "  client_id BIGINT NOT NULL, token_hash @BLOB NOT NULL, scope TEXT NOT NULL,\n"
    "  created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT,\n"
    "  PRIMARY KEY (practice_id, link_id), UNIQUE (practice_id, token_hash),\n"
    "  FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, client_id));\n"
    "CREATE TABLE audit_log (practice_id BIGINT NOT NULL REFERENCES practices (practice_id),\n"
    "  seq BIGINT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,\n"
    "  object TEXT NOT NULL, detail TEXT NOT NULL,\n"
    "  prev_hash @BLOB NOT NULL, hash @BLOB NOT NULL,\n"
    "  PRIMARY KEY (practice_id, seq));\n",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

_Static_assert(NMIGRATIONS == STORE_SCHEMA_VERSION, "STORE_SCHEMA_VERSION must match");

/* Replace every "@BLOB" in sql by the backend's byte type. Caller frees. */
static char *dialect(const char *sql, const char *blob)
{
	size_t n = strlen(sql), bl = strlen(blob);
	char *out = malloc(n * 2 + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (const char *p = sql; *p;) {
		if (strncmp(p, "@BLOB", 5) == 0) {
			memcpy(o, blob, bl);
			o += bl;
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

al_status store_schema_read(store *s, int *version, al_err *err)
{
	al_status st =
	    s->ops->exec(s->drv,
	                 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
	                 "applied_at TEXT NOT NULL)",
	                 err);
	if (st != AL_OK)
		return st;
	int64_t v = 0;
	st = store_q_int(s, Q_SCHEMA_VERSION, NULL, 0, &v, err);
	*version = (int)v;
	return st;
}

al_status store_migrate(store *s, al_err *err)
{
	int have = 0;
	al_status st = store_schema_read(s, &have, err);
	if (st != AL_OK)
		return st;
	if (have < 0)
		return al_err_set(err, AL_ESTORE, "%s: schema_version is corrupt (%d)", s->url,
		                  have);
	if (have > NMIGRATIONS)
		return al_err_set(err, AL_ESTORE,
		                  "%s: the database schema is version %d, newer than this alliance "
		                  "(%d): upgrade alliance",
		                  s->url, have, NMIGRATIONS);
	for (int v = have + 1; v <= NMIGRATIONS; v++) {
		char *sql = dialect(migrations[v - 1], s->ops->blob_type);
		if (sql == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		st = s->ops->begin(s->drv, 1, err);
		if (st == AL_OK)
			st = s->ops->exec(s->drv, sql, err);
		free(sql);
		char now[32];
		store_now(now);
		store_val p[2] = {VI(v), VT(now)};
		if (st == AL_OK)
			st = store_q(s, Q_SCHEMA_ADD, p, 2, NULL, NULL, NULL, err);
		if (st == AL_OK)
			st = s->ops->commit(s->drv, err);
		if (st != AL_OK) {
			s->ops->rollback(s->drv);
			char msg[AL_ERR_MAX];
			snprintf(msg, sizeof msg, "%s", err->msg);
			al_err_clear(err);
			return al_err_set(err, st, "migration %d: %s", v, msg);
		}
	}
	return AL_OK;
}
