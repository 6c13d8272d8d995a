/* harness_counters: counts a process's descriptors and threads and reads
 * its other /proc/PID/status figures, for the tests and the benchmarks. */
#include "harness_counters.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
h_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long
h_status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t key_len = strlen(key);
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
			n = strtol(line + key_len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return n;
}

int
h_count_threads(pid_t pid)
{
	return (int)h_status_field(pid, "Threads");
}
