/* Process titles shown by ps and top: "ferryd: supervisor", "ferryd: apply orders.1".
 * Like PostgreSQL's set_ps_display on Linux: the title overwrites the memory of argv
 * (and of the environment strings after it, which are moved away first), and
 * prctl(PR_SET_NAME) sets the short name (15 bytes: "ferryd: apply o"). Titles are
 * built from kinds and task names only: nothing secret ever goes there. */
#ifndef FERRY_PSTITLE_H
#define FERRY_PSTITLE_H

/* Call first thing in main(). Returns a copy of argv (NULL-terminated, the caller's to
 * free with pstitle_free_args) for main to use instead: the original strings get
 * overwritten by titles. NULL when out of memory (then titles only set the short name
 * and argv stays usable). */
char **pstitle_init(int argc, char **argv);
void pstitle_free_args(char **args);
/* Sets the title; inherited by fork, so a worker calls it again with its own. */
void pstitle_set(const char *title);

#endif
