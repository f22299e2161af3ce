/* Import and export jobs, and segments: the Pinpoint resources of issue 8 (jobs.c and
 * segments.c under gateway/api/). */
#ifndef RP_JOBS_API_H
#define RP_JOBS_API_H

#include "../http.h"

/* jobs.c */
void rp_api_create_import_job(struct rp_request *req);
void rp_api_get_import_job(struct rp_request *req);
void rp_api_get_import_jobs(struct rp_request *req);
void rp_api_get_segment_import_jobs(struct rp_request *req);
void rp_api_create_export_job(struct rp_request *req);
void rp_api_get_export_job(struct rp_request *req);
void rp_api_get_export_jobs(struct rp_request *req);
void rp_api_get_segment_export_jobs(struct rp_request *req);

/* segments.c */
void rp_api_create_segment(struct rp_request *req);
void rp_api_get_segments(struct rp_request *req);
void rp_api_get_segment(struct rp_request *req);
void rp_api_update_segment(struct rp_request *req);
void rp_api_delete_segment(struct rp_request *req);
void rp_api_get_segment_versions(struct rp_request *req);
void rp_api_get_segment_version(struct rp_request *req);

/* Reads page-size (1..1000, default 100) and token; answers 400 itself and returns -1. */
int rp_api_page_params(struct rp_request *req, long *page_size, char *token, size_t token_size);

#endif
