/* Fuzzes the routing summary of a stored endpoint (gateway/endpoint_summary.c) against the full
 * parse it stands in for. Beyond "no crash, no leak": for every input jansson reads as an
 * object, the summary is not NULL and holds exactly the string members jansson's tree has for
 * Id, ChannelType, Address, EndpointStatus, OptOut, Demographic.Platform and
 * Demographic.Timezone (a later duplicate member replacing an earlier one, as in jansson); for
 * any other input it is NULL or an object whose strings are valid UTF-8. Inputs with a raw NUL byte are left out of the
 * comparison: jansson skips one between tokens, yajl does not, and a stored text (written by
 * jansson) never holds one. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint_summary.h"
#include "util.h"

static const char *const top[] = {"Id", "ChannelType", "Address", "EndpointStatus", "OptOut"};
static const char *const demographic[] = {"Platform", "Timezone"};

static void same_string(const json_t *full, const json_t *summary, const char *name)
{
    const json_t *a = json_object_get(full, name), *b = json_object_get(summary, name);
    if (!json_is_string(a)) {
        if (b)
            abort(); /* the summary keeps strings only */
        return;
    }
    if (!json_is_string(b) || json_string_length(a) != json_string_length(b) ||
        memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) != 0)
        abort();
}

/* Every string the summary holds is valid UTF-8 without NUL, whatever the input. */
static void well_formed(const json_t *v)
{
    const char *name;
    const json_t *item;
    if (json_is_string(v) && (!rp_utf8_valid(json_string_value(v), json_string_length(v)) ||
                              memchr(json_string_value(v), 0, json_string_length(v))))
        abort();
    json_object_foreach((json_t *)v, name, item)
    {
        well_formed(item);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *summary = rp_endpoint_summary((const char *)data, size);
    if (summary && !json_is_object(summary))
        abort();
    well_formed(summary);
    json_t *full = json_loadb((const char *)data, size, 0, NULL);
    if (json_is_object(full) && !memchr(data, 0, size)) {
        if (!summary)
            abort();
        for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
            same_string(full, summary, top[i]);
        const json_t *fd = json_object_get(full, "Demographic");
        const json_t *sd = json_object_get(summary, "Demographic");
        if (json_is_object(fd) != json_is_object(sd))
            abort();
        for (size_t i = 0; json_is_object(fd) && i < sizeof(demographic) / sizeof(demographic[0]);
             i++)
            same_string(fd, sd, demographic[i]);
        if (json_object_size(summary) > 6 || json_object_size(sd) > 2)
            abort();
    }
    json_decref(full);
    json_decref(summary);
    return 0;
}
