/* `{{Name}}` substitution for direct messages (see rp_render_substitute in render_content.h).
 * Not a template engine: no helpers, no escaping, no sections; templates/ owns those. */
#include "render_content.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Growable output bounded by max (curl's dynbuf). */
struct outbuf {
    char *data;
    size_t len, cap, max;
};

static bool out_append(struct outbuf *b, const char *s, size_t n)
{
    if (n > b->max - b->len)
        return false;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = rp_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* Placeholder names longer than this are not looked for, so a text of many "{{" costs linear
 * time rather than a scan to its end from each. */
#define PLACEHOLDER_NAME_MAX 256

static bool append_values(struct outbuf *b, const json_t *values)
{
    size_t i;
    const json_t *v;
    json_array_foreach(values, i, v)
    {
        if ((i > 0 && !out_append(b, ",", 1)) ||
            !out_append(b, json_string_value(v), json_string_length(v)))
            return false;
    }
    return true;
}

char *rp_render_substitute(const char *text, size_t len, const json_t *vars, size_t max_out,
                           size_t *out_len, bool *changed)
{
    struct outbuf b = {.max = max_out};
    size_t done = 0, i = 0;
    *changed = false;
    while (i + 1 < len) {
        if (text[i] != '{' || text[i + 1] != '{') {
            i++;
            continue;
        }
        size_t start = i + 2, end = start;
        while (end < len && end - start <= PLACEHOLDER_NAME_MAX && text[end] != '{' &&
               text[end] != '}')
            end++;
        if (end + 1 >= len || text[end] != '}' || text[end + 1] != '}') {
            i++;
            continue;
        }
        size_t a = start, z = end;
        while (a < z && text[a] == ' ')
            a++;
        while (z > a && text[z - 1] == ' ')
            z--;
        const json_t *values = z > a ? json_object_getn(vars, text + a, z - a) : NULL;
        if (!json_is_array(values)) {
            i = end;
            continue;
        }
        if (!out_append(&b, text + done, i - done) || !append_values(&b, values)) {
            free(b.data);
            return NULL;
        }
        *changed = true;
        i = done = end + 2;
    }
    if (!out_append(&b, text + done, len - done)) {
        free(b.data);
        return NULL;
    }
    *out_len = b.len;
    return b.data;
}
