/* replay.c: run a fuzz target over its corpus without libFuzzer, so that
 * 'make test' (and 'make check', under the sanitizers) replays every input
 * ever found interesting. Prints TAP: one test per corpus file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	size_t k;
	while (buf != NULL && (k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (buf == NULL)
		return -1;
	/* an exact-size copy so that ASan sees reads past the end */
	uint8_t *exact = malloc(n ? n : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	int t = 0;
	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		if (d == NULL) {
			printf("not ok %d - cannot open corpus %s\n", ++t, argv[a]);
			continue;
		}
		int n = 0, bad = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[a], de->d_name);
			if (run_file(path) != 0) {
				printf("# cannot read %s\n", path);
				bad++;
			}
			n++;
		}
		closedir(d);
		printf("%s %d - %d inputs of %s\n", bad == 0 && n > 0 ? "ok" : "not ok", ++t, n,
		       argv[a]);
	}
	printf("1..%d\n", t);
	return 0;
}
