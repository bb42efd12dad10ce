/* Title by clobbering argv (PostgreSQL's PS_USE_CLOBBER_ARGV). argv and environ strings
 * lie back to back at the top of the stack; once environ is copied elsewhere, that whole
 * area is ours to write. Linux's /proc/PID/cmdline then shows the title. */
#include "supervisor/pstitle.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *title_area;      /* argv[0] ... end of the last contiguous string */
static size_t title_area_size;

/* End of the strings that follow each other without gaps, starting at argv[0]. */
static char *contiguous_end(int argc, char **argv)
{
	char *end = NULL;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && argv[i] != end + 1)
			return end;
		end = argv[i] + strlen(argv[i]);
	}
	for (int i = 0; environ[i] != NULL; i++) {
		if (environ[i] != end + 1)
			break;
		end = environ[i] + strlen(environ[i]);
	}
	return end;
}

/* Copies environ so setenv()/getenv() no longer touch the area we overwrite. */
static int move_environ(void)
{
	int n = 0;
	while (environ[n] != NULL)
		n++;
	char **copy = malloc(sizeof(char *) * (size_t)(n + 1));
	if (copy == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		copy[i] = strdup(environ[i]);
		if (copy[i] == NULL)
			return -1; /* the partial copy is leaked: we are about to give up anyway */
	}
	copy[n] = NULL;
	environ = copy;
	return 0;
}

char **pstitle_init(int argc, char **argv)
{
	char **copy = calloc((size_t)argc + 1, sizeof(char *));
	if (copy == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(argv[i]);
		if (copy[i] == NULL) {
			pstitle_free_args(copy);
			return NULL; /* no clobbering either: the caller keeps using argv */
		}
	}
	copy[argc] = NULL;
	if (argc == 0 || argv[0] == NULL)
		return copy;
	char *end = contiguous_end(argc, argv);
	if (move_environ() < 0)
		return copy;
	title_area = argv[0];
	title_area_size = (size_t)(end - argv[0]) + 1;
	/* Nothing else may point into the area any more. */
	for (int i = 1; i < argc; i++)
		argv[i] = NULL;
	return copy;
}

void pstitle_free_args(char **args)
{
	for (int i = 0; args[i] != NULL; i++)
		free(args[i]);
	free(args);
}

void pstitle_set(const char *title)
{
	prctl(PR_SET_NAME, title, 0, 0, 0);
	if (title_area == NULL || title_area_size < 2)
		return;
	size_t n = strlen(title);
	if (n > title_area_size - 1)
		n = title_area_size - 1;
	memcpy(title_area, title, n);
	/* NUL padding: ps shows no leftovers of the previous title or the arguments. */
	memset(title_area + n, '\0', title_area_size - n);
}
