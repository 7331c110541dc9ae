/* instdir.c: load instruments/ and wording packs (see instdir.h). */
#include "instdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

al_status os_load_instruments(const char *dir, inst_lib *lib, al_err *err)
{
	inst_lib_init(lib);
	DIR *dp = opendir(dir);
	if (dp == NULL)
		return al_err_set(
		    err, AL_ENOTFOUND,
		    "%s: cannot open the instruments directory (set --instruments DIR "
		    "or ALLIANCE_INSTRUMENTS)",
		    dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	al_status st = AL_OK;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(names, cap * sizeof *nn);
			if (nn == NULL) {
				st = al_err_set(err, AL_ENOMEM, "%s: out of memory", dir);
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			st = al_err_set(err, AL_ENOMEM, "%s: out of memory", dir);
			goto out;
		}
		n++;
	}
	if (n == 0) {
		st = al_err_set(err, AL_ENOTFOUND, "%s: no instrument definitions (*.json) here",
		                dir);
		goto out;
	}
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n && st == AL_OK; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		os_map m;
		inst_def *d = malloc(sizeof *d);
		if (d == NULL) {
			st = al_err_set(err, AL_ENOMEM, "%s: out of memory", path);
			break;
		}
		if ((st = os_map_file(&m, path, err)) == AL_OK) {
			st = inst_parse(m.data, m.len, path, d, err);
			os_map_release(&m);
		}
		if (st == AL_OK)
			st = inst_lib_add(lib, d, path, err);
		free(d);
	}
	if (st == AL_OK)
		inst_lib_sort(lib);
	else
		inst_lib_cleanup(lib);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dp);
	return st;
}

al_status os_load_wording(const char *dir, const inst_def *d, const char *lang, inst_wording *out,
                          al_err *err)
{
	char path[4096];
	memset(out, 0, sizeof *out);
	for (const char *p = lang; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
			return al_err_set(err, AL_EINPUT,
			                  "language \"%s\": use a tag such as en or pt-BR", lang);
	snprintf(path, sizeof path, "%s/%s.%s.json", dir, d->id, lang);
	os_map m;
	al_err e = {0};
	al_status st = os_map_file(&m, path, &e);
	if (st == AL_ENOTFOUND)
		return AL_ENOTFOUND;
	if (st != AL_OK)
		return al_err_set(err, st, "%s", e.msg);
	st = inst_wording_parse(m.data, m.len, path, d, out, err);
	os_map_release(&m);
	return st;
}
