/* The template engine (templates/): golden renders for every helper and escaping rule, where a
 * template that does not parse is said to fail, the precedence of variable sources, missing
 * variables, and the output bound. Cases are data: template, expected output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "templates/template.h"
#include "templates/template_int.h"

static const char endpoint_json[] =
    "{\"Id\": \"ep-1\", \"Address\": \"+12065550100\", \"ChannelType\": \"SMS\","
    " \"Attributes\": {\"Plan\": [\"gold\"], \"Colors\": [\"red\", \"blue\", \"<b>\"],"
    "   \"Empty\": [], \"Tags\": [\"a&b\"]},"
    " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"FirstName\": [\"Ann\"],"
    "   \"LastName\": [\"O'Hara\"]}},"
    " \"Demographic\": {\"Platform\": \"ios\", \"Locale\": \"en_US\"},"
    " \"Location\": {\"City\": \"Seattle\", \"Country\": \"US\"},"
    " \"Metrics\": {\"visits\": 3, \"score\": 2.5, \"none\": 0},"
    " \"Shop\": {\"Items\": [{\"name\": \"tea\", \"qty\": 2}, {\"name\": \"cup\", \"qty\": 1}],"
    "   \"Owner\": {\"name\": \"Bo\"}}}";

static const char subs_json[] =
    "{\"name\": [\"Sam\"], \"City\": [\"Paris\"], \"Location.City\": [\"Lyon\"],"
    " \"amount\": [\"1234.5\"], \"count\": [\"1\"], \"zero\": [\"0\"], \"html\": [\"<i>x</i>\"],"
    " \"when\": [\"2026-11-22T10:33:07.123Z\"], \"list\": [\"x\", \"y\"], \"blank\": [\"\"],"
    " \"words\": [\"hello big world\"], \"url\": [\"a b&c/d\"], \"n10\": [\"10\"],"
    " \"x\": [\"&<>\\\"'`=\"]}";

static const char defaults_json[] =
    "{\"Attributes.Missing\": \"dflt\", \"name\": \"never\", \"Attributes.Plan\": \"never\","
    " \"fallback\": \"from-defaults\"}";

struct fixture {
    json_t *endpoint, *subs, *defaults;
};

static struct fixture fx;

static int setup(void **state)
{
    (void)state;
    fx.endpoint = json_loads(endpoint_json, 0, NULL);
    fx.subs = json_loads(subs_json, 0, NULL);
    fx.defaults = json_loads(defaults_json, 0, NULL);
    return fx.endpoint && fx.subs && fx.defaults ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(fx.endpoint);
    json_decref(fx.subs);
    json_decref(fx.defaults);
    return 0;
}

/* 2026-11-22T10:33:07.123Z */
#define NOW_MS 1795343587123LL

static int render(const char *src, char *out, size_t cap, struct rp_tmpl_error *err)
{
    struct rp_tmpl *t = rp_tmpl_compile(src, strlen(src), err);
    if (!t)
        return RP_TMPL_ESYNTAX;
    struct rp_tmpl_vars vars = {
        .substitutions = fx.subs, .endpoint = fx.endpoint, .defaults = fx.defaults,
        .now_ms = NOW_MS};
    size_t len;
    int rc = rp_tmpl_render(t, &vars, out, cap, &len, err);
    if (rc == 0)
        assert_int_equal(len, strlen(out));
    /* Prepared vars (as every send uses) start endpoint paths at the objects resolved ahead:
     * the same answer as the full walk, for every template here but the random {{uuid}}. */
    char *again = malloc(cap);
    assert_non_null(again);
    struct rp_tmpl_error err2;
    size_t len2;
    rp_tmpl_vars_prepare(&vars);
    assert_int_equal(rp_tmpl_render(t, &vars, again, cap, &len2, &err2), rc);
    if (rc == 0 && !strstr(src, "uuid")) {
        assert_int_equal(len2, len);
        assert_memory_equal(again, out, len);
    }
    free(again);
    rp_tmpl_free(t);
    return rc;
}

struct golden {
    const char *src, *want;
};

static void check_goldens(const struct golden *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[4096];
        struct rp_tmpl_error err;
        int rc = render(g[i].src, out, sizeof(out), &err);
        if (rc != 0 || strcmp(out, g[i].want) != 0)
            fail_msg("template %s\n  want [%s]\n  got  [%s] rc %d (%d:%d %s)", g[i].src,
                     g[i].want, rc == 0 ? out : "", rc, err.line, err.column, err.msg);
    }
}

#define GOLDEN(...)                                                                            \
    do {                                                                                       \
        static const struct golden cases[] = {__VA_ARGS__};                                    \
        check_goldens(cases, sizeof(cases) / sizeof(cases[0]));                                \
    } while (0)

static void test_variables(void **state)
{
    (void)state;
    GOLDEN({"Hi {{User.UserAttributes.FirstName}}!", "Hi Ann!"},
           {"{{Attributes.Plan}} {{Id}} {{Address}} {{ChannelType}}", "gold ep-1 +12065550100 SMS"},
           {"{{Demographic.Platform}}/{{Location.Country}}", "ios/US"},
           {"{{Metrics.visits}} {{Metrics.score}}", "3 2.5"},
           {"{{Attributes.Colors}}", "red,blue,&lt;b&gt;"},
           {"{{Attributes.Colors.[1]}} {{Attributes.Colors.0}}", "blue red"},
           {"{{Shop.Owner.name}} {{Shop/Owner/name}}", "Bo Bo"},
           {"{{User.UserId}} {{[User].[UserAttributes].LastName}} {{User/UserAttributes/FirstName}}",
            "u-1 O&#x27;Hara Ann"},
           {"{{ name }}", "Sam"},
           {"{{{html}}} {{html}} {{&html}}", "<i>x</i> &lt;i&gt;x&lt;/i&gt; <i>x</i>"},
           {"{{User.UserAttributes.LastName}}", "O&#x27;Hara"},
           {"{{Attributes.Tags}} {{{Attributes.Tags}}}", "a&amp;b a&b"},
           {"a = `b` \"c\"", "a = `b` \"c\""},
           {"{{!-- a comment }} --}}x{{! short }}y", "xy"},
           {"\\{{name}} {{name}}", "{{name}} Sam"},
           {"a  {{~name~}}  b", "aSamb"},
           {"{{blank}}", ""});
}

static void test_escaping(void **state)
{
    (void)state;
    GOLDEN({"{{x}}", "&amp;&lt;&gt;&quot;&#x27;&#x60;&#x3D;"});
}

static void test_precedence(void **state)
{
    (void)state;
    /* Substitutions beat the endpoint (City is not an endpoint path at the top, Location.City
     * is: the Substitution wins); the endpoint beats DefaultSubstitutions; defaults fill gaps. */
    GOLDEN({"{{Location.City}}", "Lyon"},
           {"{{City}}", "Paris"},
           {"{{Attributes.Plan}}", "gold"},
           {"{{Attributes.Missing}}", "dflt"},
           {"{{name}}", "Sam"},
           {"{{fallback}}", "from-defaults"},
           {"{{list.[1]}} {{list.0}}", "y x"});
}

static void test_blocks(void **state)
{
    (void)state;
    GOLDEN({"{{#if name}}yes{{else}}no{{/if}}", "yes"},
           {"{{#if nothing}}yes{{else}}no{{/if}}", "no"},
           {"{{#if Metrics.none}}y{{else}}n{{/if}} {{#if blank}}y{{else}}n{{/if}} "
            "{{#if zero}}y{{else}}n{{/if}}",
            "n n y"},
           {"{{#if Attributes.Empty}}y{{else}}n{{/if}}", "n"},
           {"{{#unless nothing}}u{{/unless}}{{#unless name}}x{{else}}e{{/unless}}", "ue"},
           {"{{#if nothing}}a{{else if Metrics.none}}b{{else if name}}c{{else}}d{{/if}}", "c"},
           {"{{#each Attributes.Colors}}[{{@index}}:{{this}}{{#if @first}}F{{/if}}"
            "{{#if @last}}L{{/if}}]{{/each}}",
            "[0:redF][1:blue][2:&lt;b&gt;L]"},
           {"{{#each Shop.Items}}{{name}}x{{qty}} {{/each}}", "teax2 cupx1 "},
           {"{{#each Shop.Items}}{{../Shop.Owner.name}}{{/each}}", "BoBo"},
           {"{{#each Shop.Owner}}{{@key}}={{.}}{{/each}}", "name=Bo"},
           {"{{#each Attributes.Empty}}x{{else}}none{{/each}}", "none"},
           {"{{#with Shop.Owner}}{{name}}{{/with}}", "Bo"},
           {"{{#with nothing}}x{{else}}empty{{/with}}", "empty"},
           {"{{#Shop.Owner}}{{name}}{{/Shop.Owner}}", "Bo"},
           {"{{^nothing}}absent{{/nothing}}", "absent"},
           {"{{#list}}<{{this}}>{{/list}}", "<x><y>"});
}

static void test_standalone_lines(void **state)
{
    (void)state;
    /* Handlebars: block tags, else and comments alone on a line take the line with them. */
    GOLDEN({"{{#if name}}\nHello\n{{/if}}\n", "Hello\n"},
           {"a\n  {{#each list}}\n  - {{this}}\n  {{/each}}\nb", "a\n  - x\n  - y\nb"},
           {"{{#if nothing}}\nA\n{{else}}\nB\n{{/if}}", "B\n"},
           {"x {{#if name}}y{{/if}} z\n", "x y z\n"},
           {"a\n{{! note }}\nb", "a\nb"},
           {"{{#if nothing}}\r\nA\r\n{{else if name}}\r\nC\r\n{{/if}}\r\n", "C\r\n"},
           {"{{name}}\n", "Sam\n"});
}

static void test_conditional_helpers(void **state)
{
    (void)state;
    GOLDEN({"{{#eq Attributes.Plan \"gold\"}}G{{else}}-{{/eq}}", "G"},
           {"{{#neq Attributes.Plan \"gold\"}}N{{else}}-{{/neq}}", "-"},
           {"{{#eq count 1}}one{{/eq}}", "one"},
           {"{{#gt n10 9}}gt{{/gt}}{{#gt n10 10}}no{{/gt}}", "gt"},
           {"{{#gte n10 10}}gte{{/gte}}{{#lt n10 9}}no{{/lt}}{{#lte n10 10}}lte{{/lte}}",
            "gtelte"},
           {"{{#lt \"apple\" \"banana\"}}text{{/lt}}", "text"},
           {"{{#and name count}}both{{/and}}{{#and name nothing}}x{{else}}notboth{{/and}}",
            "bothnotboth"},
           {"{{#or nothing Metrics.none}}x{{else}}neither{{/or}}{{#or nothing name}}one{{/or}}",
            "neitherone"},
           {"{{#not nothing}}not{{/not}}", "not"},
           {"{{eq count 1}} {{eq count 2}} {{eq count 1 yes=\"Y\" no=\"N\"}}", "true false Y"});
}

static void test_string_helpers(void **state)
{
    (void)state;
    GOLDEN({"{{abbreviate words 8}}", "hello..."},
           {"{{abbreviate name 8}}", "Sam"},
           {"{{capitalize words}} {{capitalizeFirst words}}", "Hello Big World Hello big world"},
           {"{{capitalize \"hELLO wORLD\" fully=true}}", "Hello World"},
           {"[{{center name size=7 pad=\"*\"}}]", "[**Sam**]"},
           {"[{{ljust name size=5}}][{{rjust name size=5 pad=\".\"}}]", "[Sam  ][..Sam]"},
           {"{{cut words}} {{cut words \"l\"}}", "hellobigworld heo big word"},
           {"{{replace words \"big\" \"small\"}}", "hello small world"},
           {"{{upper name}} {{lower \"MiXed\"}}", "SAM mixed"},
           {"{{slugify \"  Hello, World -- Again! \"}}", "hello-world-again"},
           {"{{stripTags \"<p>Hi <b>there</b></p>\"}}", "Hi there"},
           {"{{substring words 6}}|{{substring words 0 5}}", "big world|hello"},
           {"{{yesno count}} {{yesno Metrics.none}} {{yesno nothing}} {{yesno count yes=\"Y\"}}",
            "yes no maybe Y"},
           {"{{default nothing \"anon\"}} {{default name \"anon\"}} {{defaultIfEmpty blank "
            "\"-\"}}",
            "anon Sam -"},
           {"{{inflect count \"item\" \"items\"}} {{inflect n10 \"item\" \"items\" true}}",
            "item 10 items"},
           {"{{join list \", \"}} {{join Attributes.Colors \"|\" prefix=\"(\" suffix=\")\"}}",
            "x, y (red|blue|&lt;b&gt;)"},
           {"{{upper html}} {{{upper html}}}", "&lt;I&gt;X&lt;/I&gt; <I>X</I>"});
}

static void test_date_helpers(void **state)
{
    (void)state;
    GOLDEN({"{{dateFormat when}}", "Nov 22, 2026"},
           {"{{dateFormat when \"full\"}}", "Sunday, November 22, 2026"},
           {"{{dateFormat when \"long\"}} {{dateFormat when \"short\"}}", "November 22, 2026 11/22/26"},
           {"{{dateFormat when \"yyyy-MM-dd HH:mm:ss.SSS\"}}", "2026-11-22 10:33:07.123"},
           {"{{dateFormat when \"h:mm a 'on' EEE\"}}", "10:33 AM on Sun"},
           {"{{dateFormat when \"HH:mm z\" tz=\"+05:30\"}}", "16:03 GMT+05:30"},
           {"{{dateFormat \"2026-01-02\" \"dd/MM/yy\"}}", "02/01/26"},
           {"{{dateFormat 0 \"yyyy\"}}", "1970"},
           {"{{now \"yyyy-MM-dd'T'HH:mm\"}} {{now}}", "2026-11-22T10:33 Nov 22, 2026"});
}

static void test_number_helpers(void **state)
{
    (void)state;
    GOLDEN({"{{add n10 5}} {{subtract n10 15}} {{multiply amount 2}} {{divide n10 4}}",
            "15 -5 2469 2.5"},
           {"{{modulo 10 3}} {{abs -2}} {{ceiling 1.2}} {{floor 1.8}} {{round 2.5}}", "1 2 2 1 3"},
           {"{{numberFormat amount}} {{numberFormat amount \"integer\"}}", "1,234.5 1,235"},
           {"{{numberFormat amount \"currency\"}} {{numberFormat 0.256 \"percent\"}}",
            "$1,234.50 26%"},
           {"{{numberFormat 1234567.891 \"#,##0.00\"}} {{numberFormat 3.14159 \"0.0\"}}",
            "1,234,567.89 3.1"},
           {"{{encode64 \"hello!\"}} {{decode64 \"aGVsbG8h\"}}", "aGVsbG8h hello!"},
           {"{{{encodeURI url}}} {{decodeURI \"a%20b%26c\"}}", "a%20b%26c%2Fd a b&amp;c"});
}

/* The examples of the Amazon Pinpoint user guide ("Using message template helpers"), each with
 * the endpoint its text describes and the output it documents. Where the guide's own output is
 * wrong (a weekday, a Base64 or MD5 of a differently capitalised string) the case uses the
 * correct value for the input shown; docs/templates.md lists those. */
struct guide_case {
    const char *endpoint, *src, *want;
};

#define GUIDE_EP(attrs) "{\"User\": {\"UserAttributes\": {" attrs "}}}"
#define CITY_EP "{\"Location\": {\"City\": \"Los Angeles\", \"Country\": \"US\"}}"

static void check_guide(const struct guide_case *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *ep = json_loads(g[i].endpoint, 0, NULL);
        assert_non_null(ep);
        struct rp_tmpl_error err;
        struct rp_tmpl *t = rp_tmpl_compile(g[i].src, strlen(g[i].src), &err);
        if (!t)
            fail_msg("%s: does not compile: %d:%d %s", g[i].src, err.line, err.column, err.msg);
        struct rp_tmpl_vars vars = {.endpoint = ep, .now_ms = NOW_MS};
        char out[1024];
        size_t len;
        int rc = rp_tmpl_render(t, &vars, out, sizeof(out), &len, &err);
        if (rc != 0 || strcmp(out, g[i].want) != 0)
            fail_msg("template %s\n  want [%s]\n  got  [%s] rc %d (%s)", g[i].src, g[i].want,
                     rc == 0 ? out : "", rc, err.msg);
        rp_tmpl_free(t);
        json_decref(ep);
    }
}

#define GUIDE(...)                                                                             \
    do {                                                                                       \
        static const struct guide_case cases[] = {__VA_ARGS__};                               \
        check_guide(cases, sizeof(cases) / sizeof(cases[0]));                                 \
    } while (0)

static void test_guide_default_and_conditional(void **state)
{
    (void)state;
    static const char each[] = "{{#each User.UserAttributes.FavoriteColors}}<li>{{this}}</li>"
                               "{{else}}You have no favorite colors.{{/each}}";
    static const char hello[] = "{{#if User.UserAttributes.FirstName.[0]}}Hello "
                                "{{User.UserAttributes.FirstName.[0]}},{{else}}Hello,{{/if}}";
    static const char red[] = "{{#eq User.UserAttributes.FavoriteColors.[0] \"red\"}}Your "
                              "favorite color is red.{{else}}You don't like red.{{/eq}}";
    static const char notred[] = "{{#neq User.UserAttributes.FavoriteColors.[0] \"red\"}}You do "
                                 "not like red.{{else}}You like red.{{/neq}}";
    static const char gt[] = "{{#gt User.UserAttributes.UserAge.[0] \"17\"}}old enough{{else}}"
                             "not old enough{{/gt}}";
    static const char gte[] = "{{#gte User.UserAttributes.UserAge.[0] \"18\"}}old enough{{else}}"
                              "not old enough{{/gte}}";
    static const char lt[] = "{{#lt User.UserAttributes.UserAge.[0] \"18\"}}not old enough"
                             "{{else}}old enough{{/lt}}";
    static const char lte[] = "{{#lte User.UserAttributes.Age.[0] \"17\"}}not old enough"
                              "{{else}}old enough{{/lte}}";
    GUIDE({GUIDE_EP("\"FavoriteColors\": [\"red\", \"blue\", \"yellow\"]"), each,
           "<li>red</li><li>blue</li><li>yellow</li>"},
          {GUIDE_EP("\"FavoriteColors\": []"), each, "You have no favorite colors."},
          {GUIDE_EP("\"FirstName\": [\"Jane\"]"), hello, "Hello Jane,"},
          {GUIDE_EP("\"LastName\": [\"Doe\"]"), hello, "Hello,"},
          {GUIDE_EP("\"FavoriteColors\": [\"red\"]"), red, "Your favorite color is red."},
          {GUIDE_EP("\"FavoriteColors\": [\"blue\"]"), red, "You don't like red."},
          {GUIDE_EP("\"FavoriteColors\": [\"blue\"]"), notred, "You do not like red."},
          {GUIDE_EP("\"FavoriteColors\": [\"red\"]"), notred, "You like red."},
          {GUIDE_EP("\"UserAge\": [\"18\"]"), gt, "old enough"},
          {GUIDE_EP("\"UserAge\": [\"17\"]"), gt, "not old enough"},
          {GUIDE_EP("\"UserAge\": [\"18\"]"), gte, "old enough"},
          {GUIDE_EP("\"UserAge\": [\"17\"]"), gte, "not old enough"},
          {GUIDE_EP("\"UserAge\": [\"17\"]"), lt, "not old enough"},
          {GUIDE_EP("\"UserAge\": [\"18\"]"), lt, "old enough"},
          {GUIDE_EP("\"Age\": [\"17\"]"), lte, "not old enough"},
          {GUIDE_EP("\"Age\": [\"18\"]"), lte, "old enough"},
          {GUIDE_EP("\"UserAge\": [\"9\"]"), gt, "not old enough"}, /* numeric, not textual */
          {GUIDE_EP("\"FavoriteColors\": [\"red\"]"),
           "{{eq User.UserAttributes.FavoriteColors.[0] \"red\" yes='y' no='n'}}"
           "{{neq User.UserAttributes.FavoriteColors.[0] \"red\" yes='y' no='n'}}"
           "{{and User.UserAttributes.FavoriteColors.[0] \"x\" \"y\" yes='y' no='n'}}"
           "{{or User.UserAttributes.Nothing.[0] \"\" yes='y' no='n'}}"
           "{{not User.UserAttributes.Nothing.[0] yes='y' no='n'}}",
           "ynyny"});
}

/* The guide's examples that nest helpers: (eq ...) inside and / or / not, and
 * {{capitalizeFirst (lower "JANE")}}. */
static void test_guide_subexpressions(void **state)
{
    (void)state;
    static const char la[] = "{{#and (eq Location.City \"Los Angeles\") (eq Location.Country "
                             "\"US\")}}You live in Los Angeles and the US.{{else}}You don't live "
                             "in Los Angeles and the US.{{/and}}";
    static const char west[] = "{{#or (eq Location.City \"Los Angeles\") (eq Location.City "
                               "\"Seattle\")}}West Coast{{else}}not West Coast{{/or}}";
    static const char notred[] = "{{#not (eq User.UserAttributes.FavoriteColors.[0] \"red\")}}"
                                 "You do not like red.{{else}}You like red.{{/not}}";
    static const char inline_not[] = "{{not (eq User.UserAttributes.FavoriteColors.[0] \"red\")}}";
    GUIDE({CITY_EP, la, "You live in Los Angeles and the US."},
          {"{\"Location\": {\"City\": \"Los Angeles\", \"Country\": \"MX\"}}", la,
           "You don't live in Los Angeles and the US."},
          {CITY_EP, west, "West Coast"},
          {"{\"Location\": {\"City\": \"Seattle\"}}", west, "West Coast"},
          {"{\"Location\": {\"City\": \"Boston\"}}", west, "not West Coast"},
          {GUIDE_EP("\"FavoriteColors\": [\"red\"]"), notred, "You like red."},
          {GUIDE_EP("\"FavoriteColors\": [\"blue\"]"), notred, "You do not like red."},
          {GUIDE_EP("\"FavoriteColors\": [\"red\"]"), inline_not, "false"},
          {GUIDE_EP("\"FavoriteColors\": [\"blue\"]"), inline_not, "true"},
          {"{}", "{{capitalizeFirst (lower \"JANE\")}}", "Jane"},
          /* Nested text is escaped once, by the outer tag; text around it stays in place. */
          {"{}", "a{{upper (replace \"x<y\" \"x\" (lower \"Z\"))}}b{{{upper (lower \"<I>\")}}}c",
           "aZ&lt;Yb<I>c"},
          {"{}", "{{add (multiply 2 3) (subtract 10 (divide 8 2))}} {{#gt (add 1 1) 1}}yes{{/gt}}",
           "12 yes"},
          {"{}", "{{#if (eq 1 1)}}one{{/if}}{{#unless (eq 1 2)}}two{{/unless}}"
                 "{{eq (lower \"A\") \"a\" yes=\"Y\" no=\"N\"}}",
           "onetwoY"});
}

/* The guide's inline partial: defined once, included with {{> fullName}}. */
static void test_guide_inline_partials(void **state)
{
    (void)state;
    static const char full[] =
        "{{#* inline \"fullName\"}}{{User.UserAttributes.FirstName.[0]}}"
        "{{#if User.UserAttributes.LastName.[0]}} {{User.UserAttributes.LastName.[0]}}{{/if}}"
        "{{/inline}}Hello {{> fullName}}";
    /* Definition lines are standalone: they leave no blank lines behind. */
    static const char lines[] = "{{#* inline \"fullName\"}}\n"
                                "{{User.UserAttributes.FirstName.[0]}}\n"
                                "{{/inline}}\n"
                                "Hello {{> fullName}}, bye {{> fullName}}\n";
    static const char in_each[] = "{{#*inline 'item'}}[{{this}}]{{/inline}}"
                                  "{{#each User.UserAttributes.FavoriteColors}}{{> item}}{{/each}}";
    GUIDE({GUIDE_EP("\"FirstName\": [\"Jane\"], \"LastName\": [\"Doe\"]"), full,
           "Hello Jane Doe"},
          {GUIDE_EP("\"FirstName\": [\"Jane\"]"), full, "Hello Jane"},
          {GUIDE_EP("\"FirstName\": [\"Jane\"]"), lines, "Hello Jane\n, bye Jane\n\n"},
          {GUIDE_EP("\"FavoriteColors\": [\"red\", \"blue\"]"), in_each, "[red][blue]"});
}

static void test_guide_string_helpers(void **state)
{
    (void)state;
    GUIDE({GUIDE_EP("\"LastName\": [\"Alejandro\"]"),
           "{{abbreviate User.UserAttributes.LastName.[0] 6}}", "Ale..."},
          {"{\"Attributes\": {\"description\": [\"my first post\"]}}",
           "{{capitalize Attributes.description.[0]}}|{{capitalizeFirst "
           "Attributes.description.[0]}}",
           "My First Post|My first post"},
          {CITY_EP, "\"{{center Location.City size=19}}\"", "\"    Los Angeles    \""},
          {CITY_EP, "{{cut Location.City \"e\"}}", "Los Angls"},
          /* The guide's example date, 19 September 2020, was a Saturday (it prints Tuesday). */
          {"{\"Attributes\": {\"date\": [\"19/09/2020\"]}}",
           "We can meet with you any time on {{dateFormat Attributes.date.[0] "
           "inputFormat=\"dd/MM/yyyy\" outputFormat=\"full\"}}.",
           "We can meet with you any time on Saturday, September 19, 2020."},
          {"{}",
           "{{dateFormat \"2020-09-19\" \"full\"}}|{{dateFormat \"2020-09-19\" \"long\"}}|"
           "{{dateFormat \"2020-09-19\" \"medium\"}}|{{dateFormat \"2020-09-19\"}}|"
           "{{dateFormat \"2020-09-19\" \"short\"}}|{{dateFormat \"2020-09-19\" \"MMM\"}}",
           "Saturday, September 19, 2020|September 19, 2020|Sept 19, 2020|Sept 19, 2020|"
           "9/19/20|Sep"},
          /* tz= takes IANA zone IDs, quoted or bare as the guide writes them. 2020-09-19T05:00Z
           * is still the 18th in Los Angeles (PDT, -7); NOW_MS is 02:33 PST there. */
          {"{}",
           "{{dateFormat \"2020-09-19T05:00:00Z\" \"full\" tz=America/Los_Angeles}}|"
           "{{dateFormat \"2020-09-19T05:00:00Z\" \"yyyy-MM-dd HH:mm z\" tz=\"America/Los_Angeles\"}}|"
           "{{dateFormat \"2020-09-19T05:00:00Z\" \"HH:mm\" tz=Asia/Kolkata}}|"
           "{{now \"medium\" tz=America/Los_Angeles}}|{{now \"HH:mm z\" tz=America/Los_Angeles}}",
           "Friday, September 18, 2020|2020-09-18 22:00 PDT|10:30|Nov 22, 2026|02:33 PST"},
          {"{}",
           "Thank you for your purchase of {{inflect 3 apple apples includeCount=false}}. "
           "Thank you for your purchase of {{inflect 3 apple apples includeCount=true}}.",
           "Thank you for your purchase of apples. Thank you for your purchase of 3 apples."},
          {"{\"Attributes\": {\"favorite_colors\": [\"blue\", \"red\", \"green\"]}}",
           "{{join Attributes.favorite_colors \", \"}}", "blue, red, green"},
          {CITY_EP, "\"{{ljust Location.City 15}}\"|\"{{rjust Location.City 15}}\"",
           "\"Los Angeles    \"|\"    Los Angeles\""},
          {GUIDE_EP("\"LastName\": [\"Santos\"]"), "{{lower User.UserAttributes.LastName.[0]}}",
           "santos"},
          {"{}", "{{now \"medium\"}}|{{now}}|{{now \"yyyy-MM-dd\"}}",
           "Nov 22, 2026|Nov 22, 2026|2026-11-22"},
          {GUIDE_EP("\"UserAge\": [\"22\"]"),
           "Congratulations on your {{ordinalize User.UserAttributes.UserAge.[0]}} birthday!",
           "Congratulations on your 22nd birthday!"},
          {"{}",
           "{{ordinalize 1}} {{ordinalize 2}} {{ordinalize 3}} {{ordinalize 4}} {{ordinalize 11}} "
           "{{ordinalize 12}} {{ordinalize 13}} {{ordinalize 21}} {{ordinalize 102}} "
           "{{ordinalize 111}}",
           "1st 2nd 3rd 4th 11th 12th 13th 21st 102nd 111th"},
          {CITY_EP, "{{replace Location.City \" \" \"_\"}}", "Los_Angeles"},
          {CITY_EP, "{{slugify Location.City}}", "los-angeles"},
          {GUIDE_EP("\"interests\": [\"<h1>Art</h1>\"]"),
           "{{stripTags User.UserAttributes.interests.[0]}}", "Art"},
          {CITY_EP, "{{substring Location.City 4 9}}", "Angel"},
          {GUIDE_EP("\"LastName\": [\"Roe\"]"), "{{upper User.UserAttributes.LastName.[0]}}",
           "ROE"},
          {"{\"Attributes\": {\"IsUserSubscribed\": [\"true\"]}}",
           "{{yesno Attributes.IsUserSubscribed}}", "yes"});
}

static void test_guide_math_and_encoding(void **state)
{
    (void)state;
    GUIDE({"{}", "{{add 5 2.3}} {{subtract 5 2.3}} {{multiply 5 2.3}} {{divide 5 2.3}}",
           "7.3 2.7 11.5 2.17391304"},
          {"{}", "{{ceiling 5.23}} {{floor 5.23}} {{modulo 7 2}}", "6 5 1"},
          {"{}", "You spent an average of {{round 19.21}} minutes on our website each day.",
           "You spent an average of 19 minutes on our website each day."},
          /* The guide's Base64 and MD5 outputs are those of "Hello world" (lower-case w). */
          {"{}", "{{encode64 \"Hello World\"}} {{encode64 \"Hello world\"}}",
           "SGVsbG8gV29ybGQ= SGVsbG8gd29ybGQ="},
          {"{}", "{{decode64 \"SGVsbG8gd29ybGQ=\"}}", "Hello world"},
          {"{}", "{{md5 \"Hello world\"}} {{md5 \"Hello World\"}}",
           "3e25960a79dbc69b674cd4ec67a72c62 b10a8db164e0754105b7a99be72e3fe5"},
          {"{}", "{{sha256 \"Hello World\"}}",
           "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"},
          {"{}", "{{sha512 \"Hello World\"}}",
           "2c74fd17edafd80e8447b0d46741ee243b7eb74dd2149a0ab1b9246fb30382f27e853d8585719e0e67cb"
           "da0daa8f51671064615d645ae27acb15bfb1447f459b"},
          /* Names used before the engine followed the guide keep working. */
          {"{}", "{{mod 7 2}} {{encodeBase64 \"hi\"}} {{decodeBase64 \"aGk=\"}}", "1 aGk= hi"});
}

/* A tz= that is no zone fails the render, naming the parameter; nothing outside the zone
 * directory is read. */
static void test_bad_time_zone(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{{now tz=Mars/Olympus_Mons}}", "{{now tz=\"../../../etc/passwd\"}}",
        "{{now tz=\"/etc/localtime\"}}", "{{dateFormat 0 tz=\"Europe/../../etc/passwd\"}}",
        "{{now tz=\"+25:00\"}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[128];
        struct rp_tmpl_error err;
        assert_int_equal(render(bad[i], out, sizeof(out), &err), RP_TMPL_EVALUE);
        assert_non_null(strstr(err.msg, "tz= must be a time zone ID"));
    }
}

/* Past a zone file's last transition (all of them in "slim" files) the POSIX rule at its end
 * decides: evaluated for every 6 hours of 2025-2036, it must agree with the transitions of
 * Debian's "fat" files for zones north and south of the equator and one without DST. */
static void test_tz_rules_match_zone_files(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *rule;
    } zones[] = {{"America/Los_Angeles", "PST8PDT,M3.2.0,M11.1.0"},
                 {"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"},
                 {"Europe/London", "GMT0BST,M3.5.0/1,M10.5.0"},
                 {"America/Santiago", "<-04>4<-03>,M9.1.6/24,M4.1.6/24"},
                 {"Asia/Kolkata", "IST-5:30"}};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        for (int64_t t = 1735689600; t < 2051222400; t += (int64_t)6 * 3600) {
            long want, got;
            char wa[8], ga[8];
            assert_true(tmpl_tz_offset(zones[z].zone, strlen(zones[z].zone), t, &want, wa));
            assert_true(tmpl_tz_rule_offset(zones[z].rule, t, &got, ga));
            if (want != got || strcmp(wa, ga) != 0)
                fail_msg("%s at %lld: file %ld %s, rule %ld %s", zones[z].zone, (long long)t,
                         want, wa, got, ga);
        }
    }
    long off;
    char abbr[8];
    assert_false(tmpl_tz_rule_offset("", 0, &off, abbr));
    assert_false(tmpl_tz_rule_offset("PST8PDT", 0, &off, abbr)); /* no rule: not guessed */
    assert_false(tmpl_tz_rule_offset("PST8PDT,M13.2.0,M11.1.0", 0, &off, abbr));
    assert_false(tmpl_tz_rule_offset("<abc", 0, &off, abbr));
}

/* uuid is random: its shape (version 4, RFC 4122 variant) and that two differ. */
static void test_guide_uuid(void **state)
{
    (void)state;
    char a[64] = "", b[64] = "";
    struct rp_tmpl_error err;
    assert_int_equal(render("{{uuid}}", a, sizeof(a), &err), 0);
    assert_int_equal(render("{{uuid}}", b, sizeof(b), &err), 0);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

struct bad {
    const char *src;
    int line, column;
    const char *says;
};

static void test_syntax_errors(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"Hi {{name", 1, 4, "never closed"},
        {"line one\n  {{#if x}}open", 2, 3, "{{#if}} is never closed"},
        {"{{#if x}}a{{/each}}", 1, 11, "does not match"},
        {"ok\nok {{/if}}", 2, 4, "closes nothing"},
        {"{{else}}", 1, 1, "outside a block"},
        {"a\nb\n {{formatCurrency price \"USD\"}}", 3, 4, "unknown helper 'formatCurrency'"},
        {"{{#each}}{{/each}}", 1, 4, "needs a value"},
        {"{{#upper x}}{{/upper}}", 1, 4, "not a block helper"},
        {"{{if x}}", 1, 3, "block helper"},
        {"{{> partial}}", 1, 1, "partial 'partial' is not defined"},
        {"{{#* inline \"a\"}}{{> a}}{{/inline}}", 1, 18, "cannot include a partial"},
        {"{{#* inline \"a\"}}x{{/if}}", 1, 19, "does not match"},
        {"{{#* inline \"a\"}}x{{else}}y{{/inline}}", 1, 1, "has no {{else}}"},
        {"{{#* decorate \"a\"}}x{{/decorate}}", 1, 1, "decorators other than"},
        {"{{#* inline \"a\"}}x{{/inline}}{{> a b}}", 1, 36, "no context or parameters"},
        {"{{#> layout}}x{{/layout}}", 1, 1, "partial blocks"},
        {"{{eq (nosuch a) b}}", 1, 7, "unknown helper 'nosuch' in a subexpression"},
        {"{{eq (upper a b}}", 1, 6, "never closed with )"},
        {"{{upper (if a)}}", 1, 10, "block helper"},
        {"{{#each (upper a)}}{{/each}}", 1, 4, "a subexpression can only be"},
        {"{{eq a b yes=(upper \"y\")}}", 1, 14, "cannot be a key=value value"},
        {"{{join list \",\" prefix=(lower x)}}", 1, 24, "cannot be a key=value value"},
        {"{{upper (lower (upper (lower (upper (lower (upper (lower (upper (lower a)))))))))}}", 1, 65,
         "nest deeper than 8"},
        {"{{#if a}}{{else}}{{else}}{{/if}}", 1, 18, "second {{else}}"},
        {"{{ \"x\" }}", 1, 4, "must start with a name"},
        {"{{eq a}}", 1, 3, "compares two values"},
        {"{{!-- open", 1, 1, "comment is never closed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_tmpl_error err;
        struct rp_tmpl *t = rp_tmpl_compile(cases[i].src, strlen(cases[i].src), &err);
        if (t) {
            rp_tmpl_free(t);
            fail_msg("compiled: %s", cases[i].src);
        }
        if (err.line != cases[i].line || err.column != cases[i].column ||
            !strstr(err.msg, cases[i].says))
            fail_msg("%s: got %d:%d %s, want %d:%d ...%s...", cases[i].src, err.line, err.column,
                     err.msg, cases[i].line, cases[i].column, cases[i].says);
    }
}

static void test_missing_fails(void **state)
{
    (void)state;
    char out[256];
    struct rp_tmpl_error err;
    assert_int_equal(render("Hi\n  {{User.UserAttributes.Nickname}}", out, sizeof(out), &err),
                     RP_TMPL_EMISSING);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
    assert_non_null(strstr(err.msg, "User.UserAttributes.Nickname has no value"));
    assert_string_equal(out, "");
    assert_int_equal(render("{{#each Shop.Items}}{{price}}{{/each}}", out, sizeof(out), &err),
                     RP_TMPL_EMISSING);
    assert_int_equal(render("{{dateFormat name}}", out, sizeof(out), &err), RP_TMPL_EVALUE);
    assert_int_equal(render("{{divide 1 0}}", out, sizeof(out), &err), RP_TMPL_EVALUE);
    assert_int_equal(render("{{Shop}}", out, sizeof(out), &err), RP_TMPL_EVALUE);
}

static void test_bounded_output(void **state)
{
    (void)state;
    char out[8];
    struct rp_tmpl_error err;
    assert_int_equal(render("{{name}}{{name}}{{name}}", out, sizeof(out), &err), RP_TMPL_ETOOBIG);
    assert_int_equal(render("1234567", out, sizeof(out), &err), 0);
    assert_string_equal(out, "1234567");
    assert_int_equal(render("12345678", out, sizeof(out), &err), RP_TMPL_ETOOBIG);
    /* #each stops at Pinpoint's 15 items. */
    json_t *big = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(big, json_string("x"));
    json_object_set_new(fx.subs, "big", big);
    char wide[256];
    assert_int_equal(render("{{#each big}}{{this}}{{/each}}", wide, sizeof(wide), &err), 0);
    assert_string_equal(wide, "xxxxxxxxxxxxxxx");
    json_object_del(fx.subs, "big");
}

static void test_deep_nesting_refused(void **state)
{
    (void)state;
    char src[2048] = "";
    for (int i = 0; i < RP_TMPL_MAX_DEPTH + 1; i++)
        strcat(src, "{{#if a}}");
    struct rp_tmpl_error err;
    assert_null(rp_tmpl_compile(src, strlen(src), &err));
    assert_non_null(strstr(err.msg, "nest deeper"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_standalone_lines),
        cmocka_unit_test(test_conditional_helpers),
        cmocka_unit_test(test_string_helpers),
        cmocka_unit_test(test_date_helpers),
        cmocka_unit_test(test_number_helpers),
        cmocka_unit_test(test_guide_default_and_conditional),
        cmocka_unit_test(test_guide_subexpressions),
        cmocka_unit_test(test_guide_inline_partials),
        cmocka_unit_test(test_guide_string_helpers),
        cmocka_unit_test(test_guide_math_and_encoding),
        cmocka_unit_test(test_guide_uuid),
        cmocka_unit_test(test_bad_time_zone),
        cmocka_unit_test(test_tz_rules_match_zone_files),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_missing_fails),
        cmocka_unit_test(test_bounded_output),
        cmocka_unit_test(test_deep_nesting_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
