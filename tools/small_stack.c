/* Runs the JSON decoder and encoder on a thread with a 64 KiB stack: 100,000 nested '[' must give
 * a clean error (with the default limit and with a limit of 1,000,000), a 127-deep document must
 * decode; a table nested 100,000 deep must give a clean encode error (default limit) or encode
 * (limit 1,000,000: the Lua stack may give out first, cleanly), a 128-deep one must encode.
 * Exits 0 only if all of that holds. Built and run by tools/small_stack.sh. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../csrc/cs_compat.h"

#include "../csrc/cs_json.c"

#include <lualib.h>

#define STACK_SIZE (64 * 1024)
#define DEEP 100000

static char *nested(size_t open, size_t close) {
    char *s = malloc(open + close + 1);
    if (s == NULL) return NULL;
    memset(s, '[', open);
    memset(s + open, ']', close);
    s[open + close] = '\0';
    return s;
}

/* 0 if decoding s with max_depth gives the expected outcome. */
static int expect(lua_State *L, const char *s, int max_depth, int should_decode) {
    char err[128] = "";
    int ok = cs_json_decode_sel(L, s, strlen(s), max_depth, NULL, err, sizeof err);
    printf("depth limit %d: %s\n", max_depth, ok ? "decoded" : err);
    lua_settop(L, 0);
    return ok == should_decode && (ok || strstr(err, " at byte ") != NULL) ? 0 : 1;
}

/* 0 if encoding a table nested `levels` deep with max_depth gives the expected outcome
 * (should_encode < 0: either a clean error or a text). */
static int expect_encode(lua_State *L, int levels, int max_depth, int should_encode) {
    int ok;
    lua_pushcfunction(L, cs_l_json_encode);
    lua_getglobal(L, "nest");
    lua_pushinteger(L, levels);
    lua_call(L, 1, 1);
    lua_pushinteger(L, max_depth);
    ok = lua_pcall(L, 2, 1, 0) == 0;
    printf("encode %d levels, limit %d: %s\n", levels, max_depth,
           ok ? "encoded" : lua_tostring(L, -1));
    ok = ok ? lua_rawlen(L, -1) == (size_t)levels * 2
            : -(strstr(lua_tostring(L, -1), "nested") != NULL);
    lua_settop(L, 0);
    if (should_encode < 0) return ok != 0 ? 0 : 1;
    return ok == (should_encode ? 1 : -1) ? 0 : 1;
}

static void *run(void *arg) {
    int *failures = arg;
    lua_State *L = luaL_newstate();
    char *deep = nested(DEEP, 0), *valid = nested(127, 127);
    if (L == NULL || deep == NULL || valid == NULL) {
        *failures = 1;
        return NULL;
    }
    luaL_openlibs(L);
    lua_newtable(L);
    cs_json_register(L);
    lua_settop(L, 0);
    *failures = expect(L, deep, 128, 0) + expect(L, deep, 1000000, 0) + expect(L, valid, 128, 1);
    if (luaL_dostring(L,
                      "function nest(n) local t = {} for _ = 2, n do t = { t } end return t end"))
        *failures += 1;
    *failures += expect_encode(L, DEEP, 128, 0) + expect_encode(L, DEEP, 1000000, -1) +
                 expect_encode(L, 128, 128, 1);
    lua_close(L);
    free(deep);
    free(valid);
    return NULL;
}

int main(void) {
    pthread_attr_t attr;
    pthread_t thread;
    int failures = 1;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, STACK_SIZE) != 0 ||
        pthread_create(&thread, &attr, run, &failures) != 0 || pthread_join(thread, NULL) != 0) {
        fprintf(stderr, "small_stack: cannot run a thread with a 64 KiB stack\n");
        return 1;
    }
    printf("small_stack: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
