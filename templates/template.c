/* The template parser: Handlebars source -> the flat node array of template_int.h, with the line
 * and column of the first thing that does not parse. Everything a render needs is decided here
 * (which helper a name is, whether a name is a path or a helper call), so a template that
 * compiles never meets an unknown helper at render time, and a helper Repoint does not implement
 * is refused by name when the template is saved rather than rendered wrongly. */
#include "template_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/util.h"

const char *const rp_tmpl_helper_names[H_COUNT + 1] = {
    "if", "unless", "each", "with",
    "eq", "neq", "gt", "gte", "lt", "lte", "and", "or", "not",
    "default", "defaultIfEmpty", "abbreviate", "capitalize", "capitalizeFirst", "center", "cut",
    "dateFormat", "inflect", "join", "ljust", "rjust", "lower", "upper", "now", "replace",
    "slugify", "stripTags", "substring", "yesno", "numberFormat",
    "add", "subtract", "multiply", "divide", "modulo", "abs", "ceiling", "floor", "round",
    "encode64", "decode64", "encodeURI", "decodeURI",
    "ordinalize", "md5", "sha256", "sha512", "uuid",
    NULL,
};

/* Names this engine answered to before it followed the Pinpoint guide: templates saved with them
 * keep rendering. */
static const struct {
    const char *name;
    int helper;
} helper_aliases[] = {
    {"mod", H_MOD}, {"encodeBase64", H_ENCODE_BASE64}, {"decodeBase64", H_DECODE_BASE64}};

const char *const *rp_tmpl_helpers(void)
{
    return rp_tmpl_helper_names;
}

void rp_tmpl_position(const char *src, size_t pos, int *line, int *column)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *column = c;
}

struct parser {
    struct rp_tmpl *t;
    const char *s;
    size_t len, i;
    bool trim_next; /* a ~}} asks the next text to lose its leading whitespace */
    size_t tag;     /* where the tag being parsed starts */
    struct rp_tmpl_error *err;
    bool failed;
    int sub_depth;
    int in_partial_def; /* inside {{#* inline}}: a partial there may not include another */
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    if (p->err) {
        rp_tmpl_position(p->s, pos > p->len ? p->len : pos, &p->err->line, &p->err->column);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t add_node(struct parser *p, uint8_t type, size_t pos)
{
    struct rp_tmpl *t = p->t;
    if (t->n_nodes == t->cap_nodes) {
        t->cap_nodes = t->cap_nodes ? t->cap_nodes * 2 : 16;
        t->nodes = rp_realloc(t->nodes, t->cap_nodes * sizeof(*t->nodes));
    }
    struct tmpl_node *n = &t->nodes[t->n_nodes];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->helper = H_NONE;
    n->pos = (uint32_t)pos;
    return t->n_nodes++;
}

static size_t add_sub(struct parser *p, size_t pos)
{
    struct rp_tmpl *t = p->t;
    if (t->n_subs == t->cap_subs) {
        t->cap_subs = t->cap_subs ? t->cap_subs * 2 : 4;
        t->subs = rp_realloc(t->subs, t->cap_subs * sizeof(*t->subs));
    }
    struct tmpl_node *n = &t->subs[t->n_subs];
    memset(n, 0, sizeof(*n));
    n->type = N_EXPR;
    n->helper = H_NONE;
    n->pos = (uint32_t)pos;
    return t->n_subs++;
}

static struct tmpl_arg *add_arg(struct parser *p)
{
    struct rp_tmpl *t = p->t;
    if (t->n_args == t->cap_args) {
        t->cap_args = t->cap_args ? t->cap_args * 2 : 16;
        t->args = rp_realloc(t->args, t->cap_args * sizeof(*t->args));
    }
    struct tmpl_arg *a = &t->args[t->n_args++];
    memset(a, 0, sizeof(*a));
    return a;
}

static void add_seg(struct parser *p, size_t off, size_t len)
{
    struct rp_tmpl *t = p->t;
    if (t->n_segs == t->cap_segs) {
        t->cap_segs = t->cap_segs ? t->cap_segs * 2 : 16;
        t->segs = rp_realloc(t->segs, t->cap_segs * sizeof(*t->segs));
    }
    t->segs[t->n_segs].off = (uint32_t)off;
    t->segs[t->n_segs].len = (uint32_t)len;
    t->n_segs++;
}

static void add_text(struct parser *p, size_t from, size_t to)
{
    if (p->trim_next) {
        while (from < to && isspace((unsigned char)p->s[from]))
            from++;
        p->trim_next = false;
    }
    if (from >= to)
        return;
    size_t i = add_node(p, N_TEXT, from);
    struct tmpl_node *n = &p->t->nodes[i];
    n->off = (uint32_t)from;
    n->len = (uint32_t)(to - from);
    n->next = (uint32_t)(i + 1);
}

/* {{~ : the text just before loses its trailing whitespace. */
static void trim_previous(struct parser *p)
{
    struct rp_tmpl *t = p->t;
    if (t->n_nodes == 0)
        return;
    struct tmpl_node *n = &t->nodes[t->n_nodes - 1];
    if (n->type != N_TEXT)
        return;
    while (n->len > 0 && isspace((unsigned char)p->s[n->off + n->len - 1]))
        n->len--;
}

/* The text node that ends right at tag, or SIZE_MAX. */
static size_t text_before(const struct parser *p, size_t tag)
{
    const struct rp_tmpl *t = p->t;
    if (t->n_nodes == 0)
        return SIZE_MAX;
    const struct tmpl_node *n = &t->nodes[t->n_nodes - 1];
    return n->type == N_TEXT && n->off + n->len == tag ? t->n_nodes - 1 : SIZE_MAX;
}

/* Handlebars' standalone rule: a block tag, {{else}} or a comment alone on its line (only
 * spaces or tabs around it) takes its whole line with it, so
 *   {{#if x}}\nHello\n{{/if}}\n  renders "Hello\n", not "\nHello\n".
 * tag is where the tag starts, p->i just after it; text_node the text before it (text_before). */
static void standalone(struct parser *p, size_t tag, size_t text_node)
{
    size_t b = tag;
    while (b > 0 && (p->s[b - 1] == ' ' || p->s[b - 1] == '\t'))
        b--;
    if (b > 0 && p->s[b - 1] != '\n')
        return;
    size_t a = p->i;
    while (a < p->len && (p->s[a] == ' ' || p->s[a] == '\t'))
        a++;
    if (a + 1 < p->len && p->s[a] == '\r' && p->s[a + 1] == '\n')
        a += 2;
    else if (a < p->len && p->s[a] == '\n')
        a++;
    else if (a < p->len)
        return;
    if (text_node != SIZE_MAX) {
        struct tmpl_node *n = &p->t->nodes[text_node];
        n->len = b > n->off ? (uint32_t)(b - n->off) : 0;
    }
    p->i = a;
}

static void skip_space(struct parser *p)
{
    while (p->i < p->len && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static bool at(const struct parser *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->i + n <= p->len && memcmp(p->s + p->i, lit, n) == 0;
}

/* Handlebars: an ID is any run of characters but whitespace and these. */
static bool id_char(char c)
{
    return c && !isspace((unsigned char)c) && !strchr("!\"#%&'()*+,./;<=>@[\\]^`{|}~", c);
}

/* Looks for the end of the tag: ~? then }} (}}} for a triple). Returns true and consumes it. */
static bool close_tag(struct parser *p, bool triple)
{
    size_t save = p->i;
    bool tilde = false;
    if (at(p, "~")) {
        tilde = true;
        p->i++;
    }
    if (triple ? at(p, "}}}") : at(p, "}}")) {
        p->i += triple ? 3 : 2;
        p->trim_next = tilde;
        return true;
    }
    p->i = save;
    return false;
}

/* A path: [@]( .. / )* (this | segment) ( (.|/) segment )*, a segment being an ID or [literal]. */
static int parse_path(struct parser *p, struct tmpl_arg *a)
{
    size_t start = p->i;
    a->kind = A_PATH;
    if (at(p, "@")) {
        a->data = 1;
        p->i++;
    }
    while (at(p, "../")) {
        if (a->depth == 255)
            return fail(p, start, "too many ../");
        a->depth++;
        p->i += 3;
    }
    a->seg_first = (uint32_t)p->t->n_segs;
    size_t name_start = p->i;
    bool first = true;
    for (;;) {
        size_t off, len;
        if (at(p, "[")) {
            off = ++p->i;
            while (p->i < p->len && p->s[p->i] != ']')
                p->i++;
            if (p->i >= p->len)
                return fail(p, off - 1, "a [ in a path is never closed");
            len = p->i - off;
            p->i++;
        } else {
            off = p->i;
            while (p->i < p->len && id_char(p->s[p->i]))
                p->i++;
            len = p->i - off;
            if (len == 0 && first && at(p, ".") &&
                (p->i + 1 >= p->len || !id_char(p->s[p->i + 1])) && p->s[p->i + 1] != '[') {
                p->i++; /* `.` alone is `this` */
                break;
            }
            if (len == 0)
                return fail(p, p->i, "expected a name");
        }
        bool is_this = first && !a->data && len == 4 && memcmp(p->s + off, "this", 4) == 0 &&
                       p->s[off - 1] != '[';
        if (!is_this)
            add_seg(p, off, len);
        first = false;
        if ((at(p, ".") || at(p, "/")) && p->i + 1 < p->len &&
            (id_char(p->s[p->i + 1]) || p->s[p->i + 1] == '[')) {
            p->i++;
            continue;
        }
        break;
    }
    a->seg_count = (uint32_t)(p->t->n_segs - a->seg_first);
    /* The name as written without ../ or this.: what Substitutions and DefaultSubstitutions are
     * keyed by, and what an error names. */
    size_t name_from = a->seg_count ? p->t->segs[a->seg_first].off : name_start;
    if (a->seg_count && name_from > 0 && p->s[name_from - 1] == '[' && name_from - 1 >= name_start)
        name_from--;
    a->off = (uint32_t)name_from;
    a->len = (uint32_t)(p->i - name_from);
    if (a->data && (a->seg_count != 1 || a->depth))
        return fail(p, start, "@ variables are @index, @key, @first and @last");
    if (!a->data && !a->depth && a->seg_count)
        a->root = tmpl_endpoint_root(p->s, &p->t->segs[a->seg_first], a->seg_count);
    return 0;
}

static int parse_string(struct parser *p, struct tmpl_arg *a)
{
    char q = p->s[p->i];
    size_t start = p->i++;
    a->kind = A_STR;
    a->off = (uint32_t)p->t->strs_len;
    while (p->i < p->len && p->s[p->i] != q) {
        char c = p->s[p->i];
        if (c == '\\' && p->i + 1 < p->len && p->s[p->i + 1] == q) {
            c = q;
            p->i++;
        }
        p->t->strs[p->t->strs_len++] = c;
        p->i++;
    }
    if (p->i >= p->len)
        return fail(p, start, "a string is never closed");
    p->i++;
    a->len = (uint32_t)(p->t->strs_len - a->off);
    return 0;
}

static bool word_is(const struct parser *p, size_t off, size_t len, const char *w)
{
    return strlen(w) == len && memcmp(p->s + off, w, len) == 0;
}

static int parse_call(struct parser *p, size_t ni, bool block, bool triple, bool sub);

/* `(helper args...)`: the helper's result is the argument. */
static int parse_sub(struct parser *p, struct tmpl_arg *a)
{
    size_t start = p->i;
    if (p->sub_depth >= TMPL_MAX_SUB_DEPTH)
        return fail(p, start, "subexpressions nest deeper than %d", TMPL_MAX_SUB_DEPTH);
    p->i++;
    size_t si = add_sub(p, start);
    p->sub_depth++;
    int rc = parse_call(p, si, false, false, true);
    p->sub_depth--;
    if (rc < 0)
        return -1;
    a->kind = A_SUB;
    a->off = (uint32_t)si;
    return 0;
}

/* One argument: a literal, a path, a subexpression, or key=value (then key_len is set). */
static int parse_arg(struct parser *p, struct tmpl_arg *a)
{
    size_t start = p->i;
    char c = p->s[p->i];
    if (c == '(')
        return parse_sub(p, a);
    if (c == '|')
        return fail(p, start, "block parameters (as |x|) are not supported");
    if (c == '"' || c == '\'')
        return parse_string(p, a);
    if (isdigit((unsigned char)c) ||
        (c == '-' && p->i + 1 < p->len && isdigit((unsigned char)p->s[p->i + 1]))) {
        char *end;
        char num[64];
        size_t n = 0;
        while (p->i < p->len && n + 1 < sizeof(num) &&
               (isdigit((unsigned char)p->s[p->i]) || strchr("-.eE+", p->s[p->i])))
            num[n++] = p->s[p->i++];
        num[n] = '\0';
        a->kind = A_NUM;
        a->num = strtod(num, &end);
        if (*end || (p->i < p->len && id_char(p->s[p->i])))
            return fail(p, start, "not a number");
        return 0;
    }
    /* key=value? */
    size_t k = p->i;
    while (k < p->len && id_char(p->s[k]))
        k++;
    if (k > p->i && k < p->len && p->s[k] == '=') {
        a->key_off = (uint32_t)p->i;
        a->key_len = (uint32_t)(k - p->i);
        p->i = k + 1;
        if (p->i >= p->len || isspace((unsigned char)p->s[p->i]) || p->s[p->i] == '}')
            return fail(p, start, "%.*s= has no value", (int)(k - start), p->s + start);
        uint32_t ko = a->key_off, kl = a->key_len;
        if (parse_arg(p, a) < 0)
            return -1;
        if (a->key_len != kl || a->key_off != ko)
            return fail(p, start, "a hash value cannot itself be key=value");
        /* Helpers read key=value arguments while writing their output, so a subexpression's
         * scratch text (see template_render.c) would land inside it. */
        if (a->kind == A_SUB)
            return fail(p, k + 1, "a subexpression cannot be a key=value value: use a literal "
                                  "or a variable");
        return 0;
    }
    if (word_is(p, p->i, k - p->i, "true") || word_is(p, p->i, k - p->i, "false")) {
        a->kind = A_BOOL;
        a->num = p->s[p->i] == 't';
        p->i = k;
        return 0;
    }
    if (word_is(p, p->i, k - p->i, "null") || word_is(p, p->i, k - p->i, "undefined")) {
        a->kind = p->s[p->i] == 'n' ? A_NULL : A_UNDEF;
        p->i = k;
        return 0;
    }
    if (k == p->i && !at(p, "[") && !at(p, "@") && !at(p, ".") )
        return fail(p, start, "unexpected '%c'", c);
    return parse_path(p, a);
}

static int find_helper(const char *s, size_t len)
{
    for (int h = 0; h < H_COUNT; h++)
        if (strlen(rp_tmpl_helper_names[h]) == len && memcmp(rp_tmpl_helper_names[h], s, len) == 0)
            return h;
    for (size_t a = 0; a < sizeof(helper_aliases) / sizeof(helper_aliases[0]); a++)
        if (strlen(helper_aliases[a].name) == len && memcmp(helper_aliases[a].name, s, len) == 0)
            return helper_aliases[a].helper;
    return H_NONE;
}

/* The end of a call: the tag's closing braces, or a subexpression's ')'. */
static bool call_end(struct parser *p, bool triple, bool sub)
{
    if (!sub)
        return close_tag(p, triple);
    if (!at(p, ")"))
        return false;
    p->i++;
    return true;
}

/* Parses `name args... key=value...` up to the closing braces (or, for a subexpression, the
 * ')') into node ni (of subs when sub). block tells whether this is a {{#...}} (or
 * {{else name ...}}) opening. A call's arguments are appended together once all are parsed, as
 * a subexpression among them appends its own first. */
static int parse_call(struct parser *p, size_t ni, bool block, bool triple, bool sub)
{
    size_t start = p->i;
    skip_space(p);
    if (p->i >= p->len || call_end(p, triple, sub))
        return fail(p, start, "empty expression");
    size_t name_pos = p->i;
    /* The name: a path, or a helper's name. */
    if (p->s[p->i] == '"' || p->s[p->i] == '\'' || p->s[p->i] == '(' ||
        isdigit((unsigned char)p->s[p->i]))
        return fail(p, name_pos, "an expression must start with a name");
    struct tmpl_arg f;
    memset(&f, 0, sizeof(f));
    if (parse_arg(p, &f) < 0)
        return -1;
    if (f.kind != A_PATH || f.key_len)
        return fail(p, name_pos, "an expression must start with a name");
    int helper = H_NONE;
    if (!f.data && !f.depth && f.seg_count == 1 && p->t->segs[f.seg_first].off == f.off)
        helper = find_helper(p->s + f.off, f.len);
    /* Arguments: positional first, then hash pairs. */
    uint32_t n_pos = 0, n_hash = 0;
    enum { MAX_PENDING = TMPL_MAX_ARGS * 2 };
    size_t n_pending = 0;
    struct tmpl_arg tmp[MAX_PENDING];
    for (;;) {
        skip_space(p);
        if (p->i >= p->len || (sub && (at(p, "}}") || at(p, "~}}"))))
            return sub ? fail(p, p->t->subs[ni].pos, "a ( is never closed with )")
                       : fail(p, p->tag, "the tag is never closed with }}%s", triple ? "}" : "");
        if (call_end(p, triple, sub))
            break;
        if (n_pending == (size_t)MAX_PENDING)
            return fail(p, p->i, "too many arguments");
        size_t arg_pos = p->i;
        struct tmpl_arg *a = &tmp[n_pending];
        memset(a, 0, sizeof(*a));
        if (parse_arg(p, a) < 0)
            return -1;
        if (a->key_len) {
            n_hash++;
        } else {
            if (n_hash)
                return fail(p, arg_pos, "positional arguments must come before key=value ones");
            if (++n_pos > TMPL_MAX_ARGS - 1)
                return fail(p, arg_pos, "too many arguments");
        }
        n_pending++;
    }
    uint32_t arg_first = (uint32_t)p->t->n_args;
    *add_arg(p) = f;
    bool has_sub = false;
    for (size_t k = 0; k < n_pending; k++) {
        *add_arg(p) = tmp[k];
        has_sub |= tmp[k].kind == A_SUB;
    }
    struct tmpl_node *n = sub ? &p->t->subs[ni] : &p->t->nodes[ni];
    n->arg_first = arg_first;
    n->n_args = 1 + n_pos;
    n->hash_first = arg_first + 1 + n_pos;
    n->n_hash = n_hash;
    n->helper = (int16_t)helper;
    const char *name = p->s + f.off;
    int name_len = (int)f.len;
    if (sub && helper == H_NONE)
        return fail(p, name_pos, "unknown helper '%.*s' in a subexpression: Repoint does not "
                                 "implement it (see docs/templates.md for the helpers it does)",
                    name_len > 64 ? 64 : name_len, name);
    if (sub && helper < H_FIRST_CONDITIONAL)
        return fail(p, name_pos, "%s is a block helper: it cannot be a subexpression",
                    rp_tmpl_helper_names[helper]);
    if (has_sub && (helper == H_EACH || helper == H_WITH || helper == H_NONE))
        return fail(p, name_pos, "a subexpression can only be an argument of a conditional or "
                                 "an inline helper");
    if (helper == H_NONE) {
        if (n_pos || n_hash) {
            if (f.seg_count == 1 && !f.data && !f.depth)
                return fail(p, name_pos,
                            "unknown helper '%.*s': Repoint does not implement it (see "
                            "docs/templates.md for the helpers it does)",
                            name_len > 64 ? 64 : name_len, name);
            return fail(p, name_pos, "a path takes no arguments");
        }
        /* A plain value: the path is the node's single argument. */
        n->arg_first = arg_first;
        n->n_args = 1;
        return 0;
    }
    /* For a helper, its name is not an argument. */
    n->arg_first = arg_first + 1;
    n->n_args = n_pos;
    if (helper < H_FIRST_CONDITIONAL && !block)
        return fail(p, name_pos, "%s is a block helper: write {{#%s ...}} ... {{/%s}}",
                    rp_tmpl_helper_names[helper], rp_tmpl_helper_names[helper],
                    rp_tmpl_helper_names[helper]);
    if (helper >= H_FIRST_INLINE && block)
        return fail(p, name_pos, "%s is not a block helper: write {{%s ...}}",
                    rp_tmpl_helper_names[helper], rp_tmpl_helper_names[helper]);
    if (helper < H_FIRST_INLINE && helper != H_AND && helper != H_OR && n_pos < 1)
        return fail(p, name_pos, "%s needs a value", rp_tmpl_helper_names[helper]);
    if ((helper >= H_EQ && helper <= H_LTE) && n_pos != 2)
        return fail(p, name_pos, "%s compares two values", rp_tmpl_helper_names[helper]);
    if ((helper == H_AND || helper == H_OR) && n_pos < 1)
        return fail(p, name_pos, "%s needs at least one value", rp_tmpl_helper_names[helper]);
    return 0;
}

enum term { T_EOF, T_CLOSE, T_ELSE, T_ELSE_CHAIN };

struct terminator {
    enum term type;
    size_t pos, name_off, name_len;
};

static int parse_block(struct parser *p, size_t ni, int depth, size_t name_off, size_t name_len);

/* {{#* inline "name"}} ... {{/inline}}: an inline partial, the only decorator Handlebars
 * templates on Pinpoint use. */
static int parse_partial_def(struct parser *p, size_t tag, int depth)
{
    p->i += 2;
    skip_space(p);
    size_t kw = p->i;
    if (!at(p, "inline") || (p->i + 6 < p->len && id_char(p->s[p->i + 6])))
        return fail(p, tag, "decorators other than {{#* inline \"name\"}} are not supported");
    p->i += 6;
    skip_space(p);
    if (p->i >= p->len || (p->s[p->i] != '"' && p->s[p->i] != '\''))
        return fail(p, p->i, "an inline partial needs a quoted name: {{#* inline \"name\"}}");
    struct tmpl_arg name;
    memset(&name, 0, sizeof(name));
    if (parse_string(p, &name) < 0)
        return -1;
    if (name.len == 0)
        return fail(p, tag, "an inline partial needs a name");
    skip_space(p);
    if (!close_tag(p, false))
        return fail(p, p->i, "an inline partial takes only a name: {{#* inline \"name\"}}");
    if (p->in_partial_def)
        return fail(p, tag, "an inline partial cannot be defined inside another");
    if (depth >= RP_TMPL_MAX_DEPTH)
        return fail(p, tag, "blocks nest deeper than %d", RP_TMPL_MAX_DEPTH);
    size_t before = text_before(p, tag);
    size_t ni = add_node(p, N_PARTIAL_DEF, tag);
    p->t->nodes[ni].off = name.off;
    p->t->nodes[ni].len = name.len;
    standalone(p, tag, before);
    p->in_partial_def++;
    int rc = parse_block(p, ni, depth + 1, kw, 6);
    p->in_partial_def--;
    if (rc < 0)
        return -1;
    if (p->t->nodes[ni].body_end != p->t->nodes[ni].next)
        return fail(p, tag, "an inline partial has no {{else}}");
    return 0;
}

/* {{> name}}: includes the inline partial name (resolved once the whole template is parsed). */
static int parse_partial(struct parser *p, size_t tag)
{
    p->i++;
    skip_space(p);
    size_t off = p->i;
    while (p->i < p->len && (id_char(p->s[p->i]) || p->s[p->i] == '.'))
        p->i++;
    size_t len = p->i - off;
    if (len == 0)
        return fail(p, off, "a partial needs a name: {{> name}}");
    skip_space(p);
    if (!close_tag(p, false))
        return fail(p, p->i, "partials take no context or parameters: {{> name}}");
    if (p->in_partial_def)
        return fail(p, tag, "an inline partial cannot include a partial");
    size_t ni = add_node(p, N_PARTIAL, tag);
    p->t->nodes[ni].off = (uint32_t)off;
    p->t->nodes[ni].len = (uint32_t)len;
    p->t->nodes[ni].next = (uint32_t)p->t->n_nodes;
    return 0;
}

/* Points every {{> name}} at its definition, and bounds what they expand to: partials do not
 * nest, so that is the template plus one body per inclusion. */
static void resolve_partials(struct parser *p)
{
    struct rp_tmpl *t = p->t;
    size_t expanded = t->n_nodes;
    for (size_t i = 0; i < t->n_nodes && !p->failed; i++) {
        struct tmpl_node *n = &t->nodes[i];
        if (n->type != N_PARTIAL)
            continue;
        size_t def = t->n_nodes;
        for (size_t d = 0; d < t->n_nodes; d++)
            if (t->nodes[d].type == N_PARTIAL_DEF && t->nodes[d].len == n->len &&
                memcmp(t->strs + t->nodes[d].off, t->src + n->off, n->len) == 0) {
                def = d;
                break;
            }
        if (def == t->n_nodes) {
            fail(p, n->pos, "partial '%.*s' is not defined: only inline partials "
                            "({{#* inline \"%.*s\"}}) are supported",
                 (int)(n->len > 64 ? 64 : n->len), t->src + n->off,
                 (int)(n->len > 64 ? 64 : n->len), t->src + n->off);
            return;
        }
        n->arg_first = (uint32_t)def;
        expanded += t->nodes[def].body_end - def - 1;
        if (expanded > TMPL_MAX_PARTIAL_EXPANSION) {
            fail(p, n->pos, "inline partials expand to more than %d template parts",
                 TMPL_MAX_PARTIAL_EXPANSION);
            return;
        }
    }
}

/* Parses nodes until EOF, a {{/name}}, an {{else}} or an {{else name ...}} (left at the name). */
static int parse_seq(struct parser *p, int depth, struct terminator *term)
{
    size_t text_from = p->i;
    while (p->i < p->len) {
        const char *open = memchr(p->s + p->i, '{', p->len - p->i);
        if (!open)
            break;
        size_t o = (size_t)(open - p->s);
        if (o + 1 >= p->len || p->s[o + 1] != '{') {
            p->i = o + 1;
            continue;
        }
        if (o > 0 && p->s[o - 1] == '\\') {
            /* \{{ prints the mustache literally. */
            add_text(p, text_from, o - 1);
            text_from = o;
            const char *end = p->len - o > 2 ? strstr(p->s + o + 2, "}}") : NULL;
            p->i = end ? (size_t)(end - p->s) + 2 : p->len;
            continue;
        }
        size_t tag = o;
        p->tag = tag;
        p->i = o + 2;
        bool tilde = at(p, "~");
        if (tilde)
            p->i++;
        add_text(p, text_from, tag);
        if (tilde)
            trim_previous(p);
        if (at(p, "!")) {
            bool long_form = at(p, "!--");
            const char *end = strstr(p->s + p->i, long_form ? "--}}" : "}}");
            if (!end || (size_t)(end - p->s) >= p->len)
                return fail(p, tag, "a comment is never closed");
            p->i = (size_t)(end - p->s) + (long_form ? 4 : 2);
            p->trim_next = end > p->s && end[-1] == '~';
            standalone(p, tag, text_before(p, tag));
            text_from = p->i;
            continue;
        }
        if (at(p, "#*")) {
            if (parse_partial_def(p, tag, depth) < 0)
                return -1;
            text_from = p->i;
            continue;
        }
        if (at(p, ">")) {
            if (parse_partial(p, tag) < 0)
                return -1;
            text_from = p->i;
            continue;
        }
        if (at(p, "*") || at(p, "#>"))
            return fail(p, tag, "decorators and partial blocks are not supported");
        if (at(p, "/")) {
            p->i++;
            skip_space(p);
            size_t off = p->i;
            while (p->i < p->len && (id_char(p->s[p->i]) || strchr(".[]@/", p->s[p->i])))
                p->i++;
            size_t nlen = p->i - off;
            skip_space(p);
            if (!close_tag(p, false))
                return fail(p, tag, "a closing tag must be {{/name}}");
            standalone(p, tag, text_before(p, tag));
            term->type = T_CLOSE;
            term->pos = tag;
            term->name_off = off;
            term->name_len = nlen;
            return 0;
        }
        size_t save = p->i;
        skip_space(p);
        if (at(p, "else") && (p->i + 4 >= p->len || !id_char(p->s[p->i + 4]))) {
            p->i += 4;
            skip_space(p);
            term->pos = tag;
            if (close_tag(p, false)) {
                standalone(p, tag, text_before(p, tag));
                term->type = T_ELSE;
                return 0;
            }
            term->type = T_ELSE_CHAIN;
            return 0;
        }
        p->i = save;
        if (at(p, "^")) {
            p->i++;
            skip_space(p);
            if (close_tag(p, false)) {
                standalone(p, tag, text_before(p, tag));
                term->type = T_ELSE;
                term->pos = tag;
                return 0;
            }
            p->i = save;
        }
        bool block = at(p, "#"), invert = !block && at(p, "^");
        if (block || invert) {
            p->i++;
            if (depth >= RP_TMPL_MAX_DEPTH)
                return fail(p, tag, "blocks nest deeper than %d", RP_TMPL_MAX_DEPTH);
            size_t before = text_before(p, tag);
            size_t ni = add_node(p, N_BLOCK, tag);
            p->t->nodes[ni].invert = invert;
            skip_space(p);
            size_t name_off = p->i;
            if (parse_call(p, ni, true, false, false) < 0)
                return -1;
            const struct tmpl_node *n = &p->t->nodes[ni];
            size_t name_len = n->helper == H_NONE ? p->t->args[n->arg_first].len
                                                  : strlen(rp_tmpl_helper_names[n->helper]);
            if (n->helper == H_NONE)
                name_off = p->t->args[n->arg_first].off;
            if (invert && n->helper != H_NONE)
                return fail(p, tag, "{{^%s}} is not supported: use {{#unless ...}}",
                            rp_tmpl_helper_names[n->helper]);
            standalone(p, tag, before);
            if (parse_block(p, ni, depth + 1, name_off, name_len) < 0)
                return -1;
            text_from = p->i;
            continue;
        }
        bool triple = at(p, "{"), amp = !triple && at(p, "&");
        if (triple || amp)
            p->i++;
        size_t ni = add_node(p, N_EXPR, tag);
        p->t->nodes[ni].escape = !(triple || amp);
        if (parse_call(p, ni, false, triple, false) < 0)
            return -1;
        p->t->nodes[ni].next = (uint32_t)p->t->n_nodes;
        text_from = p->i;
    }
    add_text(p, text_from, p->len);
    p->i = p->len;
    term->type = T_EOF;
    return 0;
}

/* After the opening tag of block ni: its body, optional {{else}} part, and {{/name}}. An
 * {{else if x}} opens a block nested in the else part that the same {{/name}} closes. */
static int parse_block(struct parser *p, size_t ni, int depth, size_t name_off, size_t name_len)
{
    size_t open_pos = p->t->nodes[ni].pos;
    struct terminator term = {.type = T_EOF};
    if (parse_seq(p, depth, &term) < 0)
        return -1;
    p->t->nodes[ni].body_end = (uint32_t)p->t->n_nodes;
    if (term.type == T_ELSE) {
        if (parse_seq(p, depth, &term) < 0)
            return -1;
    } else if (term.type == T_ELSE_CHAIN) {
        if (depth >= RP_TMPL_MAX_DEPTH)
            return fail(p, term.pos, "blocks nest deeper than %d", RP_TMPL_MAX_DEPTH);
        size_t before = text_before(p, term.pos);
        size_t ci = add_node(p, N_BLOCK, term.pos);
        if (parse_call(p, ci, true, false, false) < 0)
            return -1;
        standalone(p, term.pos, before);
        if (p->t->nodes[ci].helper == H_NONE)
            return fail(p, term.pos, "{{else name}} needs a block helper such as if");
        if (parse_block(p, ci, depth + 1, name_off, name_len) < 0)
            return -1;
        p->t->nodes[ni].next = (uint32_t)p->t->n_nodes;
        return 0;
    }
    if (term.type == T_ELSE || term.type == T_ELSE_CHAIN)
        return fail(p, term.pos, "a second {{else}} in one block");
    if (term.type == T_EOF)
        return fail(p, open_pos, "{{#%.*s}} is never closed", (int)(name_len > 64 ? 64 : name_len),
                    p->s + name_off);
    if (term.name_len != name_len || memcmp(p->s + term.name_off, p->s + name_off, name_len) != 0)
        return fail(p, term.pos, "{{/%.*s}} does not match {{#%.*s}}",
                    (int)(term.name_len > 64 ? 64 : term.name_len), p->s + term.name_off,
                    (int)(name_len > 64 ? 64 : name_len), p->s + name_off);
    p->t->nodes[ni].next = (uint32_t)p->t->n_nodes;
    return 0;
}

void rp_tmpl_free(struct rp_tmpl *t)
{
    if (!t)
        return;
    free(t->src);
    free(t->strs);
    free(t->nodes);
    free(t->args);
    free(t->segs);
    free(t->subs);
    free(t);
}

struct rp_tmpl *rp_tmpl_compile(const char *src, size_t len, struct rp_tmpl_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    if (len > RP_TMPL_MAX_SOURCE) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "is longer than %zu bytes", RP_TMPL_MAX_SOURCE);
        return NULL;
    }
    if (memchr(src, '\0', len)) {
        if (err) {
            rp_tmpl_position(src, (size_t)((const char *)memchr(src, '\0', len) - src),
                             &err->line, &err->column);
            snprintf(err->msg, sizeof(err->msg), "contains a NUL character");
        }
        return NULL;
    }
    struct rp_tmpl *t = rp_calloc(1, sizeof(*t));
    t->src = rp_malloc(len + 1);
    memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->src_len = len;
    t->strs = rp_malloc(len + 1);
    struct parser p = {.t = t, .s = t->src, .len = len, .err = err};
    struct terminator term = {.type = T_EOF};
    if (parse_seq(&p, 0, &term) == 0) {
        if (term.type == T_CLOSE)
            fail(&p, term.pos, "{{/%.*s}} closes nothing",
                 (int)(term.name_len > 64 ? 64 : term.name_len), p.s + term.name_off);
        else if (term.type != T_EOF)
            fail(&p, term.pos, "{{else}} outside a block");
    }
    if (!p.failed)
        resolve_partials(&p);
    if (p.failed) {
        rp_tmpl_free(t);
        return NULL;
    }
    return t;
}
