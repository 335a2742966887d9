#include "json_util.h"

#include <string.h>

/* Members of every object in the tree, each name counted once (json-c keeps the last of duplicates). */
static size_t distinct_members(struct json_object *o)
{
    size_t n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            n += 1 + distinct_members(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += distinct_members(json_object_array_get_idx(o, i));
    }
    return n;
}

/* Name separators (':' outside strings) of valid JSON text: one per member as written. */
static size_t written_members(const char *buf, size_t len)
{
    size_t n = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (buf[i] == '\\')
                i++;
            else if (buf[i] == '"')
                in_string = 0;
        } else if (buf[i] == '"') {
            in_string = 1;
        } else if (buf[i] == ':') {
            n++;
        }
    }
    return n;
}

struct json_object *fb_json_parse_object(const char *buf, size_t len)
{
    struct json_object *obj =
        fb_json_parse_object_ex(buf, len, FB_JSON_DEPTH, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* A member name written twice in one object is refused (Topics.md): parsers disagree on which
     * value wins, so accepting it would let two receivers read one message differently. */
    if (obj != NULL && written_members(buf, len) != distinct_members(obj)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

struct json_object *fb_json_parse_object_ex(const char *buf, size_t len, int depth, int flags)
{
    if (len == 0 || len > 0x7fffffff || memchr(buf, '\0', len) != NULL)
        return NULL;
    struct json_tokener *tok = json_tokener_new_ex(depth);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, flags);
    struct json_object *obj = json_tokener_parse_ex(tok, buf, (int)len);
    int ok = obj != NULL && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(obj, json_type_object);
    if (ok) {
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
            char c = buf[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                ok = 0;
                break;
            }
        }
    }
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

size_t fb_json_print(struct json_object *obj, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (s == NULL || n == 0 || n >= cap)
        return 0;
    memcpy(out, s, n + 1);
    return n;
}

int fb_json_add(struct json_object *obj, const char *key, struct json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

int fb_json_string(struct json_object *obj, const char *name, size_t min, size_t max, const char **out, size_t *len)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || v == NULL) /* json-c: null is a NULL value */
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    int n = json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    if (n < 0 || s == NULL || (size_t)n < min || (size_t)n > max || strlen(s) != (size_t)n)
        return -1;
    *out = s;
    if (len)
        *len = (size_t)n;
    return 1;
}

int fb_json_int(struct json_object *obj, const char *name, int64_t min, int64_t max, int64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || v == NULL) /* json-c: null is a NULL value */
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(v);
    /* json-c clamps out-of-range numbers to INT64_MAX/MIN; the limits used here are far inside. */
    if (x < min || x > max)
        return -1;
    *out = x;
    return 1;
}

int fb_json_bool(struct json_object *obj, const char *name, int *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || v == NULL) /* json-c: null is a NULL value */
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    *out = json_object_get_boolean(v) ? 1 : 0;
    return 1;
}

int fb_valid_id(const char *s, size_t len)
{
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}
