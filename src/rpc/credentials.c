/* credentials.c -- parse the manager's credentials file and answer what a principal may do. */
#include "credentials.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "npmu.h"
#include "wire.h"

#define CREDENTIALS_MAX_BYTES (1 << 20)

/* npmu__credentials_free -- free and wipe the keys. */
void npmu__credentials_free(struct npmu__credentials *cr)
{
	if (cr->principals)
		sodium_memzero(cr->principals, cr->nprincipals * sizeof(*cr->principals));
	free(cr->principals);
	free(cr->grants);
	memset(cr, 0, sizeof(*cr));
}

/* npmu__credentials_find -- the principal named name, or NULL. */
const struct npmu__principal *npmu__credentials_find(const struct npmu__credentials *cr,
						     const char *name)
{
	for (uint32_t i = 0; i < cr->nprincipals; i++)
		if (strcmp(cr->principals[i].name, name) == 0)
			return &cr->principals[i];
	return NULL;
}

/* parse_rights -- "create,read,write" into a mask; 0 when a word is unknown. */
static uint32_t parse_rights(char *words)
{
	uint32_t r = 0;
	for (char *save, *w = strtok_r(words, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "create"))
			r |= NPMU_RIGHT_CREATE;
		else if (!strcmp(w, "read"))
			r |= NPMU_RIGHT_READ;
		else if (!strcmp(w, "write"))
			r |= NPMU_RIGHT_WRITE | NPMU_RIGHT_READ;
		else
			return 0;
	}
	return r;
}

/* add -- append one element to an array of n elements. */
static void *add(void *arr, uint32_t n, size_t size)
{
	return realloc(arr, (n + 1) * size);
}

/* parse_line -- one statement; 0, or NPMU_E_* with err filled. */
static int parse_line(char *line, struct npmu__credentials *cr, char *err, size_t errlen)
{
	char *save, *words[5];
	int n = 0;
	for (char *w = strtok_r(line, " \t\r", &save); w && n < 5; w = strtok_r(NULL, " \t\r", &save))
		words[n++] = w;
	if (n == 0 || words[0][0] == '#')
		return 0;
	if (!strcmp(words[0], "principal") && (n == 3 || (n == 4 && !strcmp(words[2], "file")))) {
		if (!npmu__id_valid(words[1], strlen(words[1])) || npmu__credentials_find(cr, words[1]) ||
		    !strcmp(words[1], "pmm")) {
			snprintf(err, errlen, "bad, reserved or repeated principal name '%s'", words[1]);
			return NPMU_E_INVAL;
		}
		struct npmu__principal p = {0};
		snprintf(p.name, sizeof(p.name), "%s", words[1]);
		int rc = n == 3 ? npmu__key_parse(words[2], p.key) : npmu__key_read(words[3], p.key);
		if (rc != 0) {
			if (n == 3)
				snprintf(err, errlen, "key of '%s': not 64 hex digits", words[1]);
			else
				snprintf(err, errlen, "key of '%s': key file %s: %s", words[1], words[3],
					 npmu__key_problem(rc));
			return rc;
		}
		void *a = add(cr->principals, cr->nprincipals, sizeof(p));
		if (!a)
			return NPMU_E_NOMEM;
		cr->principals = a;
		cr->principals[cr->nprincipals++] = p;
		sodium_memzero(&p, sizeof(p));
		return 0;
	}
	if (!strcmp(words[0], "allow") && n == 4) {
		const struct npmu__principal *p = npmu__credentials_find(cr, words[1]);
		uint32_t rights = parse_rights(words[2]);
		if (!p || !rights || strlen(words[3]) >= sizeof(((struct npmu__grant *)0)->pattern)) {
			snprintf(err, errlen, "%s", !p ? "allow for an undeclared principal"
					       : !rights ? "rights are create, read, write"
							 : "pattern too long");
			return NPMU_E_INVAL;
		}
		struct npmu__grant g = {(uint32_t)(p - cr->principals), rights, ""};
		snprintf(g.pattern, sizeof(g.pattern), "%s", words[3]);
		void *a = add(cr->grants, cr->ngrants, sizeof(g));
		if (!a)
			return NPMU_E_NOMEM;
		cr->grants = a;
		cr->grants[cr->ngrants++] = g;
		return 0;
	}
	snprintf(err, errlen, "expected 'principal NAME KEY', 'principal NAME file PATH' or "
			      "'allow NAME RIGHTS PATTERN'");
	return NPMU_E_INVAL;
}

/* npmu__credentials_parse -- parse credentials text. */
int npmu__credentials_parse(char *text, struct npmu__credentials *cr, char *err, size_t errlen)
{
	memset(cr, 0, sizeof(*cr));
	int lineno = 0;
	for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char what[200] = "";
		int rc = parse_line(line, cr, what, sizeof(what));
		if (rc != 0) {
			snprintf(err, errlen, "line %d: %s", lineno, what);
			npmu__credentials_free(cr);
			return rc;
		}
	}
	return 0;
}

/* npmu__credentials_load -- read and parse a credentials file (which must be private). */
int npmu__credentials_load(const char *path, struct npmu__credentials *cr, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot open");
		if (fd >= 0)
			close(fd);
		return NPMU_E_NOENT;
	}
	if ((st.st_mode & 077) || st.st_size > CREDENTIALS_MAX_BYTES) {
		snprintf(err, errlen, (st.st_mode & 077) ? "readable by others (chmod 600)" : "too large");
		close(fd);
		return NPMU_E_ACCESS;
	}
	char *text = calloc(1, (size_t)st.st_size + 1);
	ssize_t n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(text);
		snprintf(err, errlen, "cannot read");
		return NPMU_E_IO;
	}
	int rc = npmu__credentials_parse(text, cr, err, errlen);
	sodium_memzero(text, (size_t)st.st_size);
	free(text);
	return rc;
}

/* npmu__credentials_rights -- what `who` may do to `region` owned by `owner`. */
uint32_t npmu__credentials_rights(const struct npmu__credentials *cr, const char *who,
				  const char *region, const char *owner)
{
	uint32_t r = 0;
	if (owner && owner[0] && strcmp(owner, who) == 0)
		r |= NPMU_RIGHT_READ | NPMU_RIGHT_WRITE;
	for (uint32_t i = 0; i < cr->ngrants; i++)
		if (strcmp(cr->principals[cr->grants[i].principal].name, who) == 0 &&
		    fnmatch(cr->grants[i].pattern, region, 0) == 0)
			r |= cr->grants[i].rights;
	return r;
}
