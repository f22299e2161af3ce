/* Stored endpoints read for routing only (endpoint_summary.h), with yajl's streaming parser. */
#include "endpoint_summary.h"
#include "json_stream.h"
#include "util.h"

#include <string.h>

static const char *const top_members[] = {"Id", "ChannelType", "Address", "EndpointStatus",
                                          "OptOut", "Demographic"};
enum { TOP_DEMOGRAPHIC = 5, TOP_COUNT = 6 };
static const char *const demographic_members[] = {"Platform", "Timezone"};
enum { DEMOGRAPHIC_COUNT = 2 };

struct reader {
    struct rp_json_scalars scalars; /* first: booleans and numbers go to on_scalar */
    json_t *out;
    json_t *demographic; /* out's Demographic while its object is being read, else NULL */
    int depth;           /* containers open: 1 inside the endpoint object */
    int top;             /* the member of interest a value at depth 1 belongs to, or -1 */
    int inner;           /* the Demographic member a value at depth 2 belongs to, or -1 */
    int in_demographic;  /* the container open at depth 2 is Demographic's object */
    int rooted;          /* the document's value is an object */
};

static int find(const char *const *names, int n, const unsigned char *key, size_t len)
{
    /* Every member of every endpoint comes through here: the first byte rules most out. */
    for (int i = 0; i < n; i++)
        if (len && names[i][0] == (char)key[0] && strlen(names[i]) == len &&
            memcmp(names[i], key, len) == 0)
            return i;
    return -1;
}

/* Any value: a later member of the same name replaces an earlier one (as in jansson), so the
 * member it names is dropped first and set again only if this value is one we keep. */
static void value_starts(struct reader *rd)
{
    if (rd->depth == 1 && rd->top >= 0) {
        json_object_del(rd->out, top_members[rd->top]);
    } else if (rd->depth == 2 && rd->in_demographic && rd->inner >= 0) {
        json_object_del(rd->demographic, demographic_members[rd->inner]);
    }
}

static int on_scalar(void *ctx)
{
    struct reader *rd = ctx;
    if (rd->depth == 0)
        return 0; /* an endpoint is an object */
    value_starts(rd);
    rd->top = rd->depth == 1 ? -1 : rd->top;
    rd->inner = -1;
    return 1;
}

/* A string kept must be one jansson would have accepted: no NUL, no overlong form or surrogate
 * (yajl lets those through). Strings not kept are not checked: every stored text comes from
 * our own writer, and a summary answers for its members only. */
static json_t *kept_string(const unsigned char *s, size_t len)
{
    if (memchr(s, 0, len) || !rp_utf8_valid((const char *)s, len))
        return NULL;
    return json_stringn_nocheck((const char *)s, len);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct reader *rd = ctx;
    if (rd->depth == 0)
        return 0; /* an endpoint is an object */
    value_starts(rd);
    json_t *into = NULL;
    const char *name = NULL;
    if (rd->depth == 1 && rd->top >= 0 && rd->top != TOP_DEMOGRAPHIC)
        into = rd->out, name = top_members[rd->top];
    else if (rd->depth == 2 && rd->in_demographic && rd->inner >= 0)
        into = rd->demographic, name = demographic_members[rd->inner];
    if (into) {
        json_t *value = kept_string(s, len);
        if (!value)
            return 0;
        json_object_set_new_nocheck(into, name, value);
    }
    rd->top = rd->depth == 1 ? -1 : rd->top;
    rd->inner = -1;
    return 1;
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    struct reader *rd = ctx;
    if (rd->depth == 1)
        rd->top = find(top_members, TOP_COUNT, key, len);
    else if (rd->depth == 2 && rd->in_demographic)
        rd->inner = find(demographic_members, DEMOGRAPHIC_COUNT, key, len);
    return 1;
}

static int open_container(struct reader *rd, int is_map)
{
    if (rd->depth == 0) {
        if (!is_map)
            return 0; /* an endpoint is an object */
        rd->rooted = 1;
    }
    value_starts(rd);
    if (rd->depth == 1 && rd->top == TOP_DEMOGRAPHIC && is_map) {
        rd->demographic = json_object();
        json_object_set_new_nocheck(rd->out, "Demographic", rd->demographic);
        rd->in_demographic = 1;
    }
    rd->depth++;
    rd->inner = -1;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, 1);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, 0);
}

static int on_end(void *ctx)
{
    struct reader *rd = ctx;
    rd->depth--;
    if (rd->depth == 1) {
        rd->in_demographic = 0;
        rd->demographic = NULL;
        rd->top = -1;
    }
    rd->inner = -1;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_scalar,
    .yajl_boolean = rp_json_stream_boolean,
    .yajl_number = rp_json_stream_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

json_t *rp_endpoint_summary(const char *text, size_t len)
{
    struct reader rd = {.out = json_object(), .top = -1, .inner = -1};
    rd.scalars.on_scalar = on_scalar;
    if (!rd.out)
        rp_panic("out of memory reading an endpoint");
    if (!rp_json_stream(&callbacks, &rd, text, len) || !rd.rooted || rd.depth != 0) {
        json_decref(rd.out);
        return NULL;
    }
    return rd.out;
}
