/* The renderer: walks a compiled template's node ranges with a fixed stack of context frames,
 * reads values in place from the JSON documents given, and writes into the caller's buffer. No
 * allocation happens here; recursion is bounded by RP_TMPL_MAX_DEPTH at compile time. */
#include "template_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tmpl_fail(struct tmpl_render *r, const struct tmpl_node *n, int rc, const char *fmt, ...)
{
    if (r->rc)
        return r->rc;
    r->rc = rc;
    if (r->err) {
        if (n)
            rp_tmpl_position(r->t->src, n->pos, &r->err->line, &r->err->column);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Bytes {{x}} escapes. */
static const bool needs_escape[256] = {['&'] = true, ['<'] = true, ['>'] = true, ['"'] = true,
                                       ['\''] = true, ['`'] = true, ['='] = true};

void tmpl_emit(struct tmpl_render *r, const char *s, size_t len, bool escape)
{
    if (r->rc)
        return;
    if (escape) {
        /* Runs of bytes that need no escaping are copied whole. */
        size_t from = 0;
        for (size_t i = 0; i < len && !r->rc; i++) {
            if (!needs_escape[(unsigned char)s[i]])
                continue;
            tmpl_emit(r, s + from, i - from, false);
            tmpl_emit_char(r, s[i], true);
            from = i + 1;
        }
        if (from < len)
            tmpl_emit(r, s + from, len - from, false);
        return;
    }
    {
        if (len >= r->cap - r->len) {
            tmpl_fail(r, NULL, RP_TMPL_ETOOBIG, "the rendered text is longer than %zu bytes",
                      r->cap - 1);
            return;
        }
        memcpy(r->buf + r->len, s, len);
        r->len += len;
        return;
    }
}

void tmpl_emit_char(struct tmpl_render *r, char c, bool escape)
{
    const char *rep = NULL;
    if (escape) {
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#x27;"; break;
        case '`': rep = "&#x60;"; break;
        case '=': rep = "&#x3D;"; break;
        default: break;
        }
    }
    if (rep) {
        tmpl_emit(r, rep, strlen(rep), false);
        return;
    }
    if (r->rc)
        return;
    if (r->len + 1 >= r->cap) {
        tmpl_fail(r, NULL, RP_TMPL_ETOOBIG, "the rendered text is longer than %zu bytes",
                  r->cap - 1);
        return;
    }
    r->buf[r->len++] = c;
}

static struct tmpl_val from_json(const json_t *j)
{
    struct tmpl_val v = {.k = V_UNDEF};
    if (!j)
        return v;
    switch (json_typeof(j)) {
    case JSON_STRING:
        v.k = V_STR;
        v.s = json_string_value(j);
        v.len = json_string_length(j);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        v.k = V_NUM;
        v.n = json_number_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v.k = V_BOOL;
        v.b = json_is_true(j);
        break;
    case JSON_NULL:
        v.k = V_NULL;
        break;
    case JSON_ARRAY:
        v.k = V_ARR;
        v.j = j;
        break;
    case JSON_OBJECT:
        v.k = V_OBJ;
        v.j = j;
        break;
    }
    return v;
}

struct tmpl_val tmpl_scalar(struct tmpl_val v)
{
    if (v.k == V_ARR && json_array_size(v.j) == 1) {
        struct tmpl_val e = from_json(json_array_get(v.j, 0));
        if (e.k != V_ARR && e.k != V_OBJ)
            return e;
    }
    return v;
}

bool tmpl_truthy(struct tmpl_val v)
{
    v = tmpl_scalar(v);
    switch (v.k) {
    case V_BOOL: return v.b;
    case V_NUM: return v.n != 0 && !isnan(v.n);
    case V_STR: return v.len > 0;
    case V_ARR: return json_array_size(v.j) > 0;
    case V_OBJ: return true;
    default: return false;
    }
}

static size_t format_number(double d, char *tmp)
{
    if (isnan(d))
        return (size_t)snprintf(tmp, 32, "NaN");
    if (isinf(d))
        return (size_t)snprintf(tmp, 32, "%sInfinity", d < 0 ? "-" : "");
    if (d == floor(d) && fabs(d) < 1e15)
        return (size_t)snprintf(tmp, 32, "%.0f", d == 0 ? 0.0 : d);
    int n = snprintf(tmp, 32, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        n = snprintf(tmp, 32, "%.17g", d);
    return (size_t)n;
}

bool tmpl_text(struct tmpl_val v, char *tmp, const char **s, size_t *len)
{
    v = tmpl_scalar(v);
    switch (v.k) {
    case V_STR:
        *s = v.s;
        *len = v.len;
        return true;
    case V_NUM:
        *len = format_number(v.n, tmp);
        *s = tmp;
        return true;
    case V_BOOL:
        *s = v.b ? "true" : "false";
        *len = strlen(*s);
        return true;
    case V_UNDEF:
    case V_NULL:
        *s = "";
        *len = 0;
        return true;
    default:
        return false;
    }
}

bool tmpl_number(struct tmpl_val v, double *out)
{
    v = tmpl_scalar(v);
    if (v.k == V_NUM) {
        *out = v.n;
        return true;
    }
    if (v.k != V_STR || v.len == 0 || v.len > 63)
        return false;
    char tmp[64], *end;
    memcpy(tmp, v.s, v.len);
    tmp[v.len] = '\0';
    *out = strtod(tmp, &end);
    while (*end == ' ')
        end++;
    return *end == '\0' && tmp[0] != ' ';
}

void tmpl_emit_number(struct tmpl_render *r, double d, bool escape)
{
    char tmp[32];
    size_t n = format_number(d, tmp);
    tmpl_emit(r, tmp, n, escape);
}

static struct tmpl_val walk(const struct rp_tmpl *t, struct tmpl_val cur, uint32_t first,
                            uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        const struct tmpl_seg *sg = &t->segs[first + i];
        const char *name = t->src + sg->off;
        if (cur.k == V_OBJ) {
            cur = from_json(json_object_getn(cur.j, name, sg->len));
        } else if (cur.k == V_ARR) {
            size_t idx = 0, k = 0;
            for (; k < sg->len && name[k] >= '0' && name[k] <= '9' && idx < 1000000; k++)
                idx = idx * 10 + (size_t)(name[k] - '0');
            if (k == 0 || k != sg->len)
                return (struct tmpl_val){.k = V_UNDEF};
            cur = from_json(json_array_get(cur.j, idx));
        } else if (cur.k == V_STR && sg->len == 6 && memcmp(name, "length", 6) == 0) {
            cur = (struct tmpl_val){.k = V_NUM, .n = (double)cur.len};
        } else {
            return (struct tmpl_val){.k = V_UNDEF};
        }
        if (cur.k == V_UNDEF)
            return cur;
    }
    return cur;
}

/* The endpoint objects most paths start in, looked up once per recipient by
 * rp_tmpl_vars_prepare instead of once per variable. The longer of two prefixes comes first. */
static const struct {
    const char *seg[2];
    uint32_t n;
} endpoint_roots[RP_TMPL_ENDPOINT_ROOTS] = {
    {{"Attributes", NULL}, 1}, {{"User", "UserAttributes"}, 2}, {{"User", NULL}, 1},
    {{"Location", NULL}, 1},   {{"Demographic", NULL}, 1},
};

uint8_t tmpl_endpoint_root(const char *src, const struct tmpl_seg *segs, uint32_t n)
{
    for (size_t i = 0; i < RP_TMPL_ENDPOINT_ROOTS; i++) {
        uint32_t k = 0;
        while (k < endpoint_roots[i].n && k < n &&
               segs[k].len == strlen(endpoint_roots[i].seg[k]) &&
               memcmp(src + segs[k].off, endpoint_roots[i].seg[k], segs[k].len) == 0)
            k++;
        if (k == endpoint_roots[i].n)
            return (uint8_t)(i + 1);
    }
    return 0;
}

/* A name in a map keyed by whole dotted names (Substitutions, DefaultSubstitutions): the
 * longest leading part of the path that is a key, then the rest walked inside its value, so
 * {"Attributes.Items": [...]} also answers Attributes.Items.[0]. */
static struct tmpl_val keyed_lookup(struct tmpl_render *r, const json_t *map,
                                    const struct tmpl_arg *a)
{
    const struct rp_tmpl *t = r->t;
    const char *name = t->src + a->off;
    for (uint32_t k = a->seg_count; k > 0; k--) {
        const struct tmpl_seg *last = &t->segs[a->seg_first + k - 1];
        size_t end = last->off + last->len;
        if (t->src[end] == ']')
            end++;
        struct tmpl_val v = from_json(json_object_getn(map, name, end - a->off));
        if (v.k == V_UNDEF)
            continue;
        return k == a->seg_count ? v : walk(t, v, a->seg_first + k, a->seg_count - k);
    }
    return (struct tmpl_val){.k = V_UNDEF};
}

/* A top-level name: Substitutions, then the endpoint, then DefaultSubstitutions (template.h). */
static struct tmpl_val root_lookup(struct tmpl_render *r, const struct tmpl_arg *a)
{
    const struct rp_tmpl_vars *vars = r->vars;
    struct tmpl_val v = {.k = V_UNDEF};
    uint64_t bit = 1ull << ((unsigned char)r->t->src[a->off] & 63);
    if (vars->substitutions && (r->subs_mask & bit)) {
        v = keyed_lookup(r, vars->substitutions, a);
        if (v.k != V_UNDEF && v.k != V_NULL)
            return v;
    }
    if (vars->endpoint) {
        struct tmpl_val ep = {.k = V_OBJ, .j = vars->endpoint};
        uint32_t skip = 0;
        if (a->root && vars->prepared) {
            ep = from_json(vars->endpoint_roots[a->root - 1]);
            skip = endpoint_roots[a->root - 1].n;
        }
        v = walk(r->t, ep, a->seg_first + skip, a->seg_count - skip);
        if (v.k != V_UNDEF && v.k != V_NULL)
            return v;
    }
    if (vars->defaults && (r->defaults_mask & bit))
        v = keyed_lookup(r, vars->defaults, a);
    return v;
}

static bool condition(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args);
static void resolve_args(struct tmpl_render *r, const struct tmpl_node *n, struct tmpl_val *args);

/* A subexpression's value: a conditional's boolean (or its yes=/no= value), or the text an
 * inline helper writes. That text goes into the output buffer past what is rendered so far and
 * is read in place; the expression that uses it drops it again (drop_scratch). */
static struct tmpl_val sub_value(struct tmpl_render *r, const struct tmpl_node *n)
{
    struct tmpl_val args[TMPL_MAX_ARGS];
    resolve_args(r, n, args);
    if (r->rc)
        return (struct tmpl_val){.k = V_UNDEF};
    if (n->helper < H_FIRST_INLINE) {
        bool yes = condition(r, n, args);
        struct tmpl_val v = tmpl_hash(r, n, yes ? "yes" : "no");
        return v.k != V_UNDEF ? v : (struct tmpl_val){.k = V_BOOL, .b = yes};
    }
    size_t from = r->len;
    if (tmpl_helper_inline(r, n, args, false))
        return (struct tmpl_val){.k = V_UNDEF};
    return (struct tmpl_val){.k = V_STR, .s = r->buf + from, .len = r->len - from};
}

/* Removes the subexpression text written between mark and scratch_end, keeping what followed. */
static void drop_scratch(struct tmpl_render *r, size_t mark, size_t scratch_end)
{
    if (r->rc || scratch_end <= mark)
        return;
    memmove(r->buf + mark, r->buf + scratch_end, r->len - scratch_end);
    r->len -= scratch_end - mark;
}

struct tmpl_val tmpl_arg_value(struct tmpl_render *r, const struct tmpl_arg *a)
{
    switch (a->kind) {
    case A_SUB:
        return sub_value(r, &r->t->subs[a->off]);
    case A_STR:
        return (struct tmpl_val){.k = V_STR, .s = r->t->strs + a->off, .len = a->len};
    case A_NUM:
        return (struct tmpl_val){.k = V_NUM, .n = a->num};
    case A_BOOL:
        return (struct tmpl_val){.k = V_BOOL, .b = a->num != 0};
    case A_NULL:
        return (struct tmpl_val){.k = V_NULL};
    case A_UNDEF:
        return (struct tmpl_val){.k = V_UNDEF};
    default:
        break;
    }
    if (a->data) {
        const struct tmpl_seg *sg = &r->t->segs[a->seg_first];
        const char *name = r->t->src + sg->off;
        for (int i = r->n_frames - 1; i >= 0; i--) {
            const struct tmpl_frame *f = &r->frames[i];
            if (!f->iter)
                continue;
            if (sg->len == 5 && memcmp(name, "index", 5) == 0)
                return (struct tmpl_val){.k = V_NUM, .n = (double)f->index};
            if (sg->len == 5 && memcmp(name, "first", 5) == 0)
                return (struct tmpl_val){.k = V_BOOL, .b = f->index == 0};
            if (sg->len == 4 && memcmp(name, "last", 4) == 0)
                return (struct tmpl_val){.k = V_BOOL, .b = f->index + 1 == f->count};
            if (sg->len == 3 && memcmp(name, "key", 3) == 0 && f->key)
                return (struct tmpl_val){.k = V_STR, .s = f->key, .len = f->key_len};
            break;
        }
        return (struct tmpl_val){.k = V_UNDEF};
    }
    int fi = r->n_frames - 1 - a->depth;
    if (fi < 0)
        return (struct tmpl_val){.k = V_UNDEF};
    const struct tmpl_frame *f = &r->frames[fi];
    if (f->root)
        return a->seg_count ? root_lookup(r, a) : (struct tmpl_val){.k = V_UNDEF};
    return walk(r->t, f->v, a->seg_first, a->seg_count);
}

struct tmpl_val tmpl_hash(struct tmpl_render *r, const struct tmpl_node *n, const char *key)
{
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < n->n_hash; i++) {
        const struct tmpl_arg *a = &r->t->args[n->hash_first + i];
        if (a->key_len == klen && memcmp(r->t->src + a->key_off, key, klen) == 0)
            return tmpl_arg_value(r, a);
    }
    return (struct tmpl_val){.k = V_UNDEF};
}

static int render_range(struct tmpl_render *r, size_t from, size_t to);

/* Prints a value as {{x}} does; a missing one fails the render, naming it. */
static int print_value(struct tmpl_render *r, const struct tmpl_node *n, struct tmpl_val v)
{
    const struct tmpl_arg *a = &r->t->args[n->arg_first];
    if (v.k == V_UNDEF || v.k == V_NULL)
        return tmpl_fail(r, n, RP_TMPL_EMISSING, "%.*s has no value", (int)(a->len > 100 ? 100 : a->len),
                         r->t->src + a->off);
    if (v.k == V_OBJ)
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%.*s is an object: name one of its members",
                         (int)(a->len > 100 ? 100 : a->len), r->t->src + a->off);
    char tmp[32];
    const char *s;
    size_t len;
    if (v.k == V_ARR && json_array_size(v.j) != 1) {
        for (size_t i = 0; i < json_array_size(v.j); i++) {
            struct tmpl_val e = from_json(json_array_get(v.j, i));
            if (i)
                tmpl_emit(r, ",", 1, false);
            if (tmpl_text(e, tmp, &s, &len))
                tmpl_emit(r, s, len, n->escape);
        }
        return r->rc;
    }
    if (!tmpl_text(v, tmp, &s, &len))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%.*s is not a printable value",
                         (int)(a->len > 100 ? 100 : a->len), r->t->src + a->off);
    tmpl_emit(r, s, len, n->escape);
    return r->rc;
}

static int push_frame(struct tmpl_render *r, struct tmpl_val v)
{
    struct tmpl_frame *f = &r->frames[r->n_frames++];
    memset(f, 0, sizeof(*f));
    f->v = v;
    return 0;
}

/* #each over a list or an object's members (at most RP_TMPL_MAX_EACH), else the else part. */
static int render_each(struct tmpl_render *r, const struct tmpl_node *n, size_t ni,
                       struct tmpl_val v)
{
    size_t count = 0;
    if (v.k == V_ARR)
        count = json_array_size(v.j);
    else if (v.k == V_OBJ)
        count = json_object_size(v.j);
    if (count == 0)
        return render_range(r, n->body_end, n->next);
    if (count > RP_TMPL_MAX_EACH)
        count = RP_TMPL_MAX_EACH;
    push_frame(r, v);
    struct tmpl_frame *f = &r->frames[r->n_frames - 1];
    f->iter = true;
    f->count = count;
    if (v.k == V_ARR) {
        for (size_t i = 0; i < count && !r->rc; i++) {
            f->index = i;
            f->v = from_json(json_array_get(v.j, i));
            render_range(r, ni + 1, n->body_end);
        }
    } else {
        void *it = json_object_iter((json_t *)v.j);
        for (size_t i = 0; it && i < count && !r->rc; i++) {
            f->index = i;
            f->key = json_object_iter_key(it);
            f->key_len = json_object_iter_key_len(it);
            f->v = from_json(json_object_iter_value(it));
            render_range(r, ni + 1, n->body_end);
            it = json_object_iter_next((json_t *)v.j, it);
        }
    }
    r->n_frames--;
    return r->rc;
}

static int compare(struct tmpl_val a, struct tmpl_val b)
{
    double x, y;
    if (tmpl_number(a, &x) && tmpl_number(b, &y))
        return x < y ? -1 : x > y ? 1 : 0;
    char ta[32], tb[32];
    const char *sa, *sb;
    size_t la, lb;
    if (!tmpl_text(a, ta, &sa, &la) || !tmpl_text(b, tb, &sb, &lb))
        return 2; /* lists and objects are equal to nothing */
    int c = memcmp(sa, sb, la < lb ? la : lb);
    if (c == 0)
        c = la < lb ? -1 : la > lb ? 1 : 0;
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

/* The conditional helpers (jknack Handlebars.java semantics, which Pinpoint's helpers follow):
 * comparisons are numeric when both sides are numbers or spell numbers, else textual. */
static bool condition(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args)
{
    int c;
    switch (n->helper) {
    case H_IF: return tmpl_truthy(args[0]);
    case H_UNLESS: return !tmpl_truthy(args[0]);
    case H_EQ: return compare(args[0], args[1]) == 0;
    case H_NEQ: return compare(args[0], args[1]) != 0;
    case H_GT: return compare(args[0], args[1]) == 1;
    case H_GTE: c = compare(args[0], args[1]); return c == 1 || c == 0;
    case H_LT: return compare(args[0], args[1]) == -1;
    case H_LTE: c = compare(args[0], args[1]); return c == -1 || c == 0;
    case H_AND:
        for (uint32_t i = 0; i < n->n_args; i++)
            if (!tmpl_truthy(args[i]))
                return false;
        return true;
    case H_OR:
        for (uint32_t i = 0; i < n->n_args; i++)
            if (tmpl_truthy(args[i]))
                return true;
        return false;
    case H_NOT:
        for (uint32_t i = 0; i < n->n_args; i++)
            if (tmpl_truthy(args[i]))
                return false;
        return true;
    default: return false;
    }
}

static void resolve_args(struct tmpl_render *r, const struct tmpl_node *n, struct tmpl_val *args)
{
    for (uint32_t i = 0; i < n->n_args && i < TMPL_MAX_ARGS; i++)
        args[i] = tmpl_arg_value(r, &r->t->args[n->arg_first + i]);
}

static int render_block(struct tmpl_render *r, size_t ni)
{
    const struct tmpl_node *n = &r->t->nodes[ni];
    struct tmpl_val args[TMPL_MAX_ARGS];
    size_t mark = r->len;
    resolve_args(r, n, args);
    if (r->rc)
        return r->rc;
    if (n->helper == H_NONE) {
        /* A section: a list iterates, an object becomes the context, any other truthy value
         * renders the body once; {{^x}} renders its body when x is falsy. */
        struct tmpl_val v = args[0];
        bool truthy = tmpl_truthy(v);
        if (n->invert)
            return truthy ? render_range(r, n->body_end, n->next)
                          : render_range(r, ni + 1, n->body_end);
        if (!truthy)
            return render_range(r, n->body_end, n->next);
        if (v.k == V_ARR && json_array_size(v.j) != 1)
            return render_each(r, n, ni, v);
        push_frame(r, v);
        render_range(r, ni + 1, n->body_end);
        r->n_frames--;
        return r->rc;
    }
    if (n->helper == H_EACH)
        return render_each(r, n, ni, args[0]);
    if (n->helper == H_WITH) {
        if (!tmpl_truthy(args[0]))
            return render_range(r, n->body_end, n->next);
        push_frame(r, args[0]);
        render_range(r, ni + 1, n->body_end);
        r->n_frames--;
        return r->rc;
    }
    bool yes = condition(r, n, args);
    r->len = mark; /* subexpression text, if any: only the condition needed it */
    if (yes)
        return render_range(r, ni + 1, n->body_end);
    return render_range(r, n->body_end, n->next);
}

static int render_expr(struct tmpl_render *r, const struct tmpl_node *n)
{
    struct tmpl_val args[TMPL_MAX_ARGS];
    size_t mark = r->len;
    resolve_args(r, n, args);
    size_t scratch_end = r->len;
    if (r->rc)
        return r->rc;
    if (n->helper == H_NONE)
        return print_value(r, n, args[0]);
    if (n->helper < H_FIRST_INLINE) {
        /* A conditional helper inline prints yes= / no= (default true / false). */
        bool yes = condition(r, n, args);
        struct tmpl_val v = tmpl_hash(r, n, yes ? "yes" : "no");
        char tmp[32];
        const char *s;
        size_t len;
        if (v.k == V_UNDEF || !tmpl_text(v, tmp, &s, &len)) {
            s = yes ? "true" : "false";
            len = strlen(s);
        }
        tmpl_emit(r, s, len, n->escape);
        drop_scratch(r, mark, scratch_end);
        return r->rc;
    }
    tmpl_helper_inline(r, n, args, n->escape);
    drop_scratch(r, mark, scratch_end);
    return r->rc;
}

static int render_range(struct tmpl_render *r, size_t from, size_t to)
{
    const struct rp_tmpl *t = r->t;
    for (size_t i = from; i < to && !r->rc;) {
        const struct tmpl_node *n = &t->nodes[i];
        switch (n->type) {
        case N_TEXT:
            tmpl_emit(r, t->src + n->off, n->len, false);
            break;
        case N_EXPR:
            render_expr(r, n);
            break;
        case N_BLOCK:
            render_block(r, i);
            break;
        case N_PARTIAL: {
            const struct tmpl_node *def = &t->nodes[n->arg_first];
            render_range(r, n->arg_first + 1, def->body_end);
            break;
        }
        default:
            break;
        }
        i = n->next > i ? n->next : i + 1;
    }
    return r->rc;
}

static uint64_t key_mask(const json_t *map)
{
    uint64_t mask = 0;
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)map, key, key_len, v)
    {
        if (key_len)
            mask |= 1ull << ((unsigned char)key[0] & 63);
    }
    return mask;
}

void rp_tmpl_vars_prepare(struct rp_tmpl_vars *vars)
{
    vars->subs_mask = key_mask(vars->substitutions);
    vars->defaults_mask = key_mask(vars->defaults);
    for (size_t i = 0; i < RP_TMPL_ENDPOINT_ROOTS; i++) {
        const json_t *j = vars->endpoint;
        for (uint32_t k = 0; k < endpoint_roots[i].n && j; k++)
            j = json_object_get(j, endpoint_roots[i].seg[k]);
        vars->endpoint_roots[i] = j;
    }
    vars->prepared = true;
}

int rp_tmpl_render(const struct rp_tmpl *t, const struct rp_tmpl_vars *vars, char *buf,
                   size_t cap, size_t *len, struct rp_tmpl_error *err)
{
    static const struct rp_tmpl_vars none;
    if (err)
        memset(err, 0, sizeof(*err));
    *len = 0;
    if (cap == 0)
        return RP_TMPL_ETOOBIG;
    /* Not zero-initialised as a whole: the frame stack is 2 KB and only frames[0] is read
     * before it is written. */
    struct tmpl_render r;
    r.t = t;
    r.vars = vars ? vars : &none;
    r.buf = buf;
    r.cap = cap;
    r.len = 0;
    r.rc = 0;
    r.err = err;
    if (r.vars->prepared) {
        r.subs_mask = r.vars->subs_mask;
        r.defaults_mask = r.vars->defaults_mask;
    } else {
        r.subs_mask = key_mask(r.vars->substitutions);
        r.defaults_mask = key_mask(r.vars->defaults);
    }
    memset(&r.frames[0], 0, sizeof(r.frames[0]));
    r.frames[0].root = true;
    r.frames[0].v.k = V_UNDEF;
    r.n_frames = 1;
    render_range(&r, 0, t->n_nodes);
    buf[r.rc ? 0 : r.len] = '\0';
    *len = r.rc ? 0 : r.len;
    return r.rc;
}
