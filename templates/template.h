/* The message template engine: Pinpoint's Handlebars dialect, compiled once into an immutable
 * node array and rendered many times into a caller's bounded buffer.
 *
 *   t = rp_tmpl_compile(src, len, &e)          -> NULL: e.line, e.column, e.msg say where, why
 *   rp_tmpl_render(t, &vars, buf, cap, &n, &e) -> 0, or RP_TMPL_E* with e naming the cause
 *   rp_tmpl_free(t)
 *
 * A compiled template holds no mutable state: any number of threads may render it at once.
 * Rendering allocates nothing: values are read in place from the JSON documents given (borrowed),
 * helpers write straight into the output, and output beyond cap is an error, not a reallocation.
 *
 * Variable lookup at the top level, for a path such as `User.UserAttributes.FirstName`, in
 * this order (Pinpoint: Substitutions "take precedence over all other variables"; a template's
 * default values apply only "if the endpoint doesn't have a value"):
 *   1. vars.substitutions[path] (the request's merged Substitutions, keyed by the whole name)
 *   2. the path walked through vars.endpoint (the stored EndpointResponse: Attributes, User,
 *      Demographic, Location, Address, Id, ChannelType ...; numeric segments index arrays)
 *   3. vars.defaults[path] (the template's DefaultSubstitutions)
 * Inside #each and #with, names are looked up in the current element (`this`, `../` for the
 * outer one, `@index`, `@key`, `@first`, `@last`), as Handlebars does.
 *
 * Output of a value: strings as they are, numbers as JavaScript prints them, true/false, arrays
 * joined with "," (a Substitutions value is a list: one element prints as itself). A value that
 * is missing (or null) everywhere fails the render with RP_TMPL_EMISSING naming it: Pinpoint
 * does not send such a message, and an empty placeholder is worse than no message. `{{x}}`
 * HTML-escapes & < > " ' ` =, `{{{x}}}` and `{{&x}}` do not. */
#ifndef RP_TEMPLATE_H
#define RP_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest template source the engine compiles (Repoint's bound; an email HtmlPart is the big
 * one and Pinpoint caps the whole message template at 500 KB). */
#define RP_TMPL_MAX_SOURCE ((size_t)512 * 1024)
/* Nesting of blocks allowed at compile time, so rendering recursion is bounded. */
#define RP_TMPL_MAX_DEPTH 32
/* Pinpoint: "The maximum list size is 15 items" for #each. */
#define RP_TMPL_MAX_EACH 15

enum rp_tmpl_rc {
    RP_TMPL_OK = 0,
    RP_TMPL_ESYNTAX = -1,  /* compile: the template does not parse */
    RP_TMPL_EMISSING = -2, /* render: a variable has no value anywhere */
    RP_TMPL_ETOOBIG = -3,  /* render: the output would exceed the buffer */
    RP_TMPL_EVALUE = -4,   /* render: a helper got a value it cannot use (a date that does not
                            * parse, a division by zero ...) */
};

struct rp_tmpl_error {
    int line;   /* 1-based line of the tag at fault; 0 when not about one place */
    int column; /* 1-based column, in bytes */
    char msg[192];
};

/* How many endpoint objects rp_tmpl_vars_prepare resolves ahead (template_render.c names them). */
#define RP_TMPL_ENDPOINT_ROOTS 5

struct rp_tmpl_vars {
    const json_t *substitutions; /* borrowed or NULL: object, name -> [string] or string */
    const json_t *endpoint;      /* borrowed or NULL: EndpointResponse */
    const json_t *defaults;      /* borrowed or NULL: object, name -> string */
    int64_t now_ms;              /* what {{now}} prints */
    /* Filled by rp_tmpl_vars_prepare (zero-initialise the struct otherwise). */
    bool prepared;
    uint64_t subs_mask, defaults_mask;
    /* The endpoint's Attributes, User, User.UserAttributes, Location and Demographic, looked up
     * once so that a path under one of them starts its walk there (NULL: not in the endpoint). */
    const json_t *endpoint_roots[RP_TMPL_ENDPOINT_ROOTS];
};

/* Precomputes what every render with vars would (which first bytes the keys of substitutions
 * and defaults start with, the endpoint's top-level objects). Call again after changing any of
 * the three documents; optional, saves time when several templates render with the same vars
 * (an email's Subject, TextPart and HtmlPart). */
void rp_tmpl_vars_prepare(struct rp_tmpl_vars *vars);

struct rp_tmpl;

/* Compiles src (len bytes, borrowed; copied). Returns a new template or NULL with err set
 * (err may be NULL). */
struct rp_tmpl *rp_tmpl_compile(const char *src, size_t len, struct rp_tmpl_error *err);
void rp_tmpl_free(struct rp_tmpl *t);

/* Renders t into buf (cap bytes; the output is NUL-terminated, so at most cap - 1 bytes of text)
 * and sets *len. Returns RP_TMPL_OK or a negative enum rp_tmpl_rc with err set (err may be
 * NULL). vars is borrowed for the call. */
int rp_tmpl_render(const struct rp_tmpl *t, const struct rp_tmpl_vars *vars, char *buf,
                   size_t cap, size_t *len, struct rp_tmpl_error *err);

/* The helper names the engine implements, NULL-terminated (for documentation and tests). */
const char *const *rp_tmpl_helpers(void);

#endif
