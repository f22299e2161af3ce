/* The List APIs' paging (GetImportJobs, GetExportJobs, GetSegments, GetSegmentVersions ...):
 * Pinpoint's opaque NextToken is here the offset of the next page, and a page of a Redis sorted
 * set is read newest first with one ZREVRANGE. */
#ifndef RP_LIST_PAGE_H
#define RP_LIST_PAGE_H

#include <jansson.h>

/* Builds the response item of one member; NULL with *rc RP_ESTORE on a store failure, any other
 * NULL skips the member (deleted since it was listed). */
typedef json_t *(*rp_list_item_fn)(const char *member, void *ctx, int *rc);

/* The offset a NextToken names (NULL or "" for the first page; never negative). */
long rp_list_token_offset(const char *token);

/* Sets out's "NextToken" to offset. */
void rp_list_set_next(json_t *out, long offset);

/* {"Item": [item(member) ...], "NextToken"?} for the page_size members of the sorted set key
 * that follow token, newest (highest score) first. Returns a new reference with *rc 0, or NULL
 * with *rc RP_ESTORE. */
json_t *rp_list_page(const char *key, long page_size, const char *token, rp_list_item_fn item,
                     void *ctx, int *rc);

#endif
