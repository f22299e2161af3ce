/* The compiled form of a template, shared by the parser (template.c), the renderer
 * (template_render.c) and the helpers (template_helpers.c). Not an interface: template.h is.
 *
 * A template is a flat array of nodes in document order. A block's body is the nodes right after
 * it up to body_end, its {{else}} part from body_end up to next; next skips the whole subtree, so
 * rendering walks ranges without any pointers. Every string a node names is an offset into the
 * template's own copy of the source (or, for a string literal with escapes, into strs). */
#ifndef RP_TEMPLATE_INT_H
#define RP_TEMPLATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "template.h"

#define TMPL_MAX_ARGS 8 /* positional arguments of one helper call */

/* N_PARTIAL_DEF: {{#* inline "name"}}body{{/inline}}, renders nothing where it stands (name in
 * strs at off/len); N_PARTIAL: {{> name}} (name in src at off/len), renders the body of the
 * definition at node index arg_first. */
enum tmpl_node_type { N_TEXT, N_EXPR, N_BLOCK, N_PARTIAL_DEF, N_PARTIAL };
/* How many nodes the inline partials of one template may expand to in all. */
#define TMPL_MAX_PARTIAL_EXPANSION 100000
enum tmpl_arg_kind { A_PATH, A_STR, A_NUM, A_BOOL, A_NULL, A_UNDEF, A_SUB };
#define TMPL_MAX_SUB_DEPTH 8 /* (a (b (c ...))) */

/* Helper ids; H_NONE is a plain path (or a section, for a block). Order matches the name table
 * in template.c. */
enum tmpl_helper {
    H_NONE = -1,
    /* Block-only (Handlebars built-ins). */
    H_IF, H_UNLESS, H_EACH, H_WITH,
    /* Conditional helpers: a block, or inline printing yes/no. */
    H_EQ, H_NEQ, H_GT, H_GTE, H_LT, H_LTE, H_AND, H_OR, H_NOT,
    /* Inline helpers. */
    H_DEFAULT, H_DEFAULT_IF_EMPTY, H_ABBREVIATE, H_CAPITALIZE, H_CAPITALIZE_FIRST, H_CENTER, H_CUT,
    H_DATE_FORMAT, H_INFLECT, H_JOIN, H_LJUST, H_RJUST, H_LOWER, H_UPPER, H_NOW, H_REPLACE,
    H_SLUGIFY, H_STRIP_TAGS, H_SUBSTRING, H_YESNO, H_NUMBER_FORMAT,
    H_ADD, H_SUBTRACT, H_MULTIPLY, H_DIVIDE, H_MOD, H_ABS, H_CEILING, H_FLOOR, H_ROUND,
    H_ENCODE_BASE64, H_DECODE_BASE64, H_ENCODE_URI, H_DECODE_URI,
    H_ORDINALIZE, H_MD5, H_SHA256, H_SHA512, H_UUID,
    H_COUNT
};
#define H_FIRST_CONDITIONAL H_EQ
#define H_FIRST_INLINE H_DEFAULT

struct tmpl_seg {
    uint32_t off, len; /* in src */
};

struct tmpl_arg {
    uint8_t kind;   /* enum tmpl_arg_kind */
    uint8_t data;   /* @index, @key ...: a data variable */
    uint8_t depth;  /* how many ../ */
    uint8_t root;   /* A_PATH: 1 + index into rp_tmpl_vars.endpoint_roots of the endpoint object
                     * its first segments name (tmpl_endpoint_root), 0 for none */
    uint32_t key_off, key_len; /* hash argument name in src; key_len 0 when positional */
    uint32_t off, len;         /* A_PATH: the whole name in src (for messages and top-level
                                * lookup); A_STR: the value, in strs; A_SUB: off indexes subs */
    uint32_t seg_first, seg_count; /* A_PATH: segments; none for `this` */
    double num;                /* A_NUM; A_BOOL: 0 or 1 */
};

struct tmpl_node {
    uint8_t type;   /* enum tmpl_node_type */
    uint8_t escape; /* N_EXPR: HTML-escape the output */
    uint8_t invert; /* N_BLOCK: {{^x}}, the body renders when x is falsy */
    int16_t helper; /* enum tmpl_helper */
    uint32_t pos;   /* offset of the tag in src, for line and column */
    uint32_t off, len;                 /* N_TEXT: the text in src */
    uint32_t arg_first, n_args;        /* positional; for H_NONE, the path is the only one */
    uint32_t hash_first, n_hash;
    uint32_t body_end, next;
};

struct rp_tmpl {
    char *src;
    size_t src_len;
    char *strs; /* unescaped string literals */
    size_t strs_len;
    struct tmpl_node *nodes;
    size_t n_nodes, cap_nodes;
    struct tmpl_arg *args;
    size_t n_args, cap_args;
    struct tmpl_seg *segs;
    size_t n_segs, cap_segs;
    /* Subexpressions (helper args...): helper calls outside document order, each the value of
     * an A_SUB argument. */
    struct tmpl_node *subs;
    size_t n_subs, cap_subs;
};

/* A value as the renderer sees it, read in place: strings point into the JSON documents or into
 * the template, never copied. */
enum tmpl_val_kind { V_UNDEF, V_NULL, V_BOOL, V_NUM, V_STR, V_ARR, V_OBJ };

struct tmpl_val {
    uint8_t k;
    bool b;     /* V_BOOL */
    size_t len; /* V_STR */
    union {     /* small, as values are passed around by value on every lookup */
        double n;        /* V_NUM */
        const char *s;   /* V_STR */
        const json_t *j; /* V_ARR, V_OBJ */
    };
};

struct tmpl_frame {
    struct tmpl_val v;
    bool root;      /* the top level: lookups go through Substitutions, endpoint, defaults */
    bool iter;      /* inside #each: @index ... */
    size_t index, count;
    const char *key; /* @key when iterating an object */
    size_t key_len;
};

struct tmpl_render {
    const struct rp_tmpl *t;
    const struct rp_tmpl_vars *vars;
    char *buf;
    size_t cap, len;
    int rc;
    struct rp_tmpl_error *err;
    /* First bytes of the keys of Substitutions and defaults (bit c & 63): a name whose first
     * byte is not there is not looked up in that map, which most endpoint paths are not. */
    uint64_t subs_mask, defaults_mask;
    struct tmpl_frame frames[RP_TMPL_MAX_DEPTH + 2];
    int n_frames;
};

/* Which of the endpoint objects rp_tmpl_vars_prepare resolves ahead a path whose n segments
 * are segs (in src) starts with: 1 + its index in rp_tmpl_vars.endpoint_roots, 0 for none. */
uint8_t tmpl_endpoint_root(const char *src, const struct tmpl_seg *segs, uint32_t n);

/* Records the first error (at node n's tag) and returns rc. */
int tmpl_fail(struct tmpl_render *r, const struct tmpl_node *n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tmpl_emit(struct tmpl_render *r, const char *s, size_t len, bool escape);
void tmpl_emit_char(struct tmpl_render *r, char c, bool escape);
/* A single-element list stands for its element (Substitutions values are lists). */
struct tmpl_val tmpl_scalar(struct tmpl_val v);
bool tmpl_truthy(struct tmpl_val v);
/* The text of a scalar: strings as they are, numbers as JavaScript prints them (into tmp, at
 * least 32 bytes), booleans; "" for undefined and null. false for lists and objects. */
bool tmpl_text(struct tmpl_val v, char *tmp, const char **s, size_t *len);
/* The number a value holds or spells; false when it has none. */
bool tmpl_number(struct tmpl_val v, double *out);
void tmpl_emit_number(struct tmpl_render *r, double d, bool escape);
struct tmpl_val tmpl_arg_value(struct tmpl_render *r, const struct tmpl_arg *a);
/* The hash argument key of node n, or V_UNDEF. */
struct tmpl_val tmpl_hash(struct tmpl_render *r, const struct tmpl_node *n, const char *key);
/* Inline helpers of template_helpers.c: writes the helper's output; returns 0 or an error rc. */
int tmpl_helper_inline(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                       bool escape);

/* The UTC offset (seconds east) and abbreviation ("PDT") of IANA zone name at utc_secs; false
 * for a name that is not a zone this system has (template_tz.c). Thread-safe. */
bool tmpl_tz_offset(const char *name, size_t len, int64_t utc_secs, long *off, char abbr[8]);
/* The same for a POSIX TZ string ("PST8PDT,M3.2.0,M11.1.0"), as TZif files end with. */
bool tmpl_tz_rule_offset(const char *rule, int64_t utc_secs, long *off, char abbr[8]);

extern const char *const rp_tmpl_helper_names[H_COUNT + 1];

/* Line and column (1-based) of byte offset pos in src. */
void rp_tmpl_position(const char *src, size_t pos, int *line, int *column);

#endif
