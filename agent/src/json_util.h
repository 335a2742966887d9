/* Bounded json-c parsing shared by envelope and profile: strict, UTF-8 checked, depth-limited. */
#ifndef FB_JSON_UTIL_H
#define FB_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define FB_JSON_DEPTH 8

/* Parses exactly one JSON object filling all of buf[0..len) (trailing whitespace allowed).
 * Rejects NUL bytes, invalid UTF-8, nesting deeper than FB_JSON_DEPTH and non-objects. NULL on error. */
struct json_object *fb_json_parse_object(const char *buf, size_t len);

/* Field getters. Return 1 if the field is present and valid, 0 if absent (or null: Topics.md treats
 * null as absent in optional fields, and a required field that is absent is an error), -1 if invalid. */
int fb_json_string(struct json_object *obj, const char *name, size_t min, size_t max, const char **out, size_t *len);
int fb_json_int(struct json_object *obj, const char *name, int64_t min, int64_t max, int64_t *out);
int fb_json_bool(struct json_object *obj, const char *name, int *out);

/* 1..64 of [A-Za-z0-9._-] (Topics.md "device id"). */
int fb_valid_id(const char *s, size_t len);

#endif
