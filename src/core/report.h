/* report.h: the registry report (shared/spec/registry-report.md), as pure
 * accumulation and summary.
 *
 * A reader hands every checked item-level row to report_acc_add; the
 * accumulator keeps only what the report needs per administration (sum,
 * answered items, a bitmask of the items seen, therapist, date, modality) and
 * per client (its interned id), never the rows. Several accumulators (one per
 * reader thread, each over part of the file) combine with report_acc_merge.
 * report_summarize then scores every administration, follows each client
 * through its sessions and sums up per therapist and for the registry, and
 * the report_write_* functions print the three output files.
 *
 * Rows that break a rule spanning rows (an item twice, an administration
 * whose rows disagree on therapist, date or modality) are not reported here:
 * the administration is flagged, left out of the report, and the caller finds
 * the lines to name by reading the flagged administrations' rows again (see
 * cmd_report.c). The report's instruments are phq9, gad7 and wai_sr; rows of
 * other instruments are assembled and checked the same way and only counted. */
#ifndef AL_REPORT_H
#define AL_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "instrument.h"
#include "itemrow.h"

enum { REPORT_PHQ9, REPORT_GAD7, REPORT_WAI, REPORT_NINST };

/* One administration: (client, session, instrument) and what its rows sum
 * to. 32 bytes; the spec's per-administration state. */
typedef struct report_admin {
	uint32_t client; /* index into the client table */
	uint32_t session;
	uint32_t therapist; /* index into the therapist table */
	int32_t days;       /* the date, days since 1970-01-01 */
	uint64_t seen;      /* bit i-1: item i has a row */
	uint16_t sum;       /* sum of answered values (report instruments) */
	uint8_t answered;
	uint8_t inst;    /* index into the instrument library */
	uint8_t mod;     /* modality */
	uint8_t flagged; /* 1: an item twice, or rows that disagree */
} report_admin;

/* Interned strings (client and therapist ids): an index per distinct id. */
typedef struct report_strtab {
	char *bytes;
	size_t nbytes, capbytes;
	uint64_t *ent; /* offset << 8 | length */
	uint32_t n, cap;
	uint64_t *slot; /* hash << 32 | (index + 1); 0 = empty */
	uint32_t nslot; /* a power of two */
} report_strtab;

/* Where one client's administrations are (see report.c). */
typedef struct report_run {
	uint32_t first, n;
} report_run;

typedef struct report_acc {
	const inst_lib *lib;
	int kind[256]; /* library index -> REPORT_PHQ9.. or -1 */
	report_strtab clients, therapists;
	report_admin *adm;
	size_t nadm, capadm;
	report_run *run; /* per client */
	size_t caprun;
	uint32_t *aslot;                           /* admin index + 1; 0 = empty */
	size_t naslot;                             /* a power of two */
	size_t nhashed;                            /* administrations in aslot */
	uint32_t last_client, last_ther, last_adm; /* UINT32_MAX: none */
	uint64_t rows;                             /* data rows seen by the reader (its business) */
	uint64_t bad_rows; /* rows that failed their checks (the reader's) */
	size_t nflagged;   /* administrations flagged so far */
} report_acc;

/* One item-level row, already checked by itemrow_parse (or an equivalent
 * fast path): the fields need not outlive the call. */
typedef struct report_row {
	const char *client, *therapist;
	size_t client_len, therapist_len;
	int session, days, mod;
	int inst;  /* index into the library */
	int item;  /* 1..K */
	int value; /* SCORE_SKIPPED when skipped */
} report_row;

/* Start an accumulator over lib, which must hold phq9 (9 items), gad7 (7)
 * and wai_sr (12) and at most 256 instruments: AL_ENOTFOUND / AL_EINPUT
 * otherwise, AL_ENOMEM. */
al_status report_acc_init(report_acc *a, const inst_lib *lib, al_err *err);
void report_acc_cleanup(report_acc *a);

/* Add one row. AL_ENOMEM, or AL_ELIMIT past 2^32-1 clients or
 * administrations. An item seen twice or a disagreeing row flags the
 * administration (not an error here). */
al_status report_acc_add(report_acc *a, const report_row *r, al_err *err);

/* Add r if it belongs to the client of the row added last (*added = 1: no
 * look-up needed); otherwise *added = 0 and nothing happens. */
al_status report_acc_add_same(report_acc *a, const report_row *r, int *added, al_err *err);

/* Add n rows, as report_acc_add each in turn, overlapping the hash table
 * look-ups of up to REPORT_BATCH rows (faster when consecutive rows belong
 * to different clients). */
#define REPORT_BATCH 16
al_status report_acc_add_many(report_acc *a, const report_row *r, size_t n, al_err *err);

/* Add everything src holds into dst (same library). Partial administrations
 * combine; an item present in both, or a disagreement, flags it. src is
 * left as it was. Counters (rows, bad_rows) add up. */
al_status report_acc_merge(report_acc *dst, const report_acc *src, al_err *err);

/* 1 if the administration (client, session, inst) exists and is flagged. */
int report_acc_is_flagged(const report_acc *a, const char *client, size_t client_len, int session,
                          int inst);

/* One client's line of client_summary.csv. Scores are -1 when absent. */
typedef struct report_client {
	uint32_t client, therapist; /* table indexes */
	int n_sessions;
	int phq9_first, phq9_last, gad7_first, gad7_last;
	int phq9_n, gad7_n;
	uint8_t eligible, case_first, case_last, improved, deteriorated, recovered,
	    reliable_recovery;
	int alliance_n;
	double alliance_mean; /* meaningful when alliance_n > 0 */
	int ruptures, repaired;
} report_client;

/* Sums over a set of clients: a therapist, or the whole registry. */
typedef struct report_group {
	uint32_t therapist;
	uint64_t clients, eligible, improved, deteriorated, eligible_case, recovered,
	    reliable_recovery;
	uint64_t alliance_clients; /* clients with an alliance_mean */
	double alliance_sum;       /* sum of their alliance_mean */
	uint64_t ruptures, chances, repaired;
} report_group;

typedef struct report_result {
	report_client *clients; /* sorted by client id (bytes) */
	size_t nclients;
	report_group *therapists; /* sorted by therapist id (bytes) */
	size_t ntherapists;
	report_group all;
	int64_t mod_sum[MOD_COUNT];     /* wai_sr totals scaled to a common denominator */
	uint64_t mod_n[MOD_COUNT];      /* valid wai_sr administrations per modality */
	uint64_t administrations;       /* of the report's instruments, not flagged */
	uint64_t invalid;               /* of those, too many skips or nothing answered */
	uint64_t other_administrations; /* of other instruments, not flagged */
	uint64_t flagged;               /* administrations left out: rows conflict */
} report_result;

/* Score, follow and sum up everything in a (see the spec). out is
 * caller-owned; free it with report_result_cleanup. AL_ENOMEM only. */
al_status report_summarize(const report_acc *a, report_result *out, al_err *err);
void report_result_cleanup(report_result *r);

/* The mean of a group's clients' alliance_mean etc. are printed by these. */
al_status report_write_clients(const report_acc *a, const report_result *r, FILE *f, al_err *err);
al_status report_write_therapists(const report_acc *a, const report_result *r, FILE *f,
                                  al_err *err);

/* Extra keys for overall.json beyond the spec's, printed when present. */
typedef struct report_extra {
	uint64_t rows;  /* data rows in the file */
	int keep_going; /* print rejected_rows / rejected_administrations */
	uint64_t rejected_rows, rejected_administrations;
} report_extra;

al_status report_write_overall(const report_result *r, const report_extra *x, FILE *f, al_err *err);

/* Fault injection, for tests only: when set to n > 0, the n-th allocation
 * of this module from then on fails (AL_ENOMEM) and later ones succeed. Not
 * thread-safe: set it only while one thread uses the module. */
extern long report_fail_alloc;

/* An id string of a table, not NUL-terminated. */
const char *report_strtab_get(const report_strtab *t, uint32_t i, size_t *len);

#endif
