/* A fast compact JSON serialiser for the hot paths that write whole endpoints (import writes,
 * export lines): the same bytes as jansson's json_dumps(v, JSON_COMPACT) (members in insertion
 * order, the same escapes; reals are formatted by jansson itself), several times faster on
 * large strings because runs of plain characters are copied whole instead of being decoded one
 * code point at a time. */
#ifndef RP_JSON_WRITE_H
#define RP_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

/* The JSON text of v (malloc'd, NUL-terminated; *len its length when len is not NULL), or NULL
 * when v holds something jansson could not dump either (a NULL value). */
char *rp_json_dump(const json_t *v, size_t *len);

#endif
