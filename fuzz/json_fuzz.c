/* libFuzzer target for the JSON codec. Per input: decode; a rejected input must leave the stack as
 * it was and give a message. An accepted one must survive encode -> decode unchanged (deep
 * equality, integer/float kind included), and encoding that copy must give text of the same
 * length. (Not the same bytes: members come out in table order, which may differ between two
 * tables with the same contents.) The only encode error allowed is for inf, which a huge
 * exponent decodes to. Then the input is decoded again with a selection drawn from it (the
 * reference spec/json_prune.lua draws the paths): the result must equal the full decode pruned
 * by that reference, and a rejected input must be rejected with the same message. Any other
 * outcome aborts. Run from the project root (tools/fuzz.sh), which has the reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../csrc/cs_compat.h"

#include "../csrc/cs_json.c"

#include <lualib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why) {
    fprintf(stderr, "json_fuzz: %s\n", why);
    abort();
}

static int same(lua_State *L, int a, int b);

static size_t count(lua_State *L, int t) {
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* Every key of table a is in table b with an equal value. */
static int covers(lua_State *L, int a, int b) {
    lua_pushnil(L);
    while (lua_next(L, a)) {
        int ok;
        lua_pushvalue(L, -2);
        lua_rawget(L, b);
        ok = same(L, lua_gettop(L) - 1, lua_gettop(L));
        lua_pop(L, 2);
        if (!ok) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

/* Same metatable, same number of keys, and a's entries all equal in b: linear in the size.
 * Each level of nesting takes a few stack slots, which the Lua API does not check for us. */
static int same_table(lua_State *L, int a, int b) {
    int ma, mb, ok;
    if (!lua_checkstack(L, 8)) fail("Lua stack exhausted while comparing");
    ma = lua_getmetatable(L, a);
    mb = lua_getmetatable(L, b);
    ok = ma == mb && (!ma || lua_rawequal(L, -1, -2));
    lua_pop(L, ma + mb);
    return ok && count(L, a) == count(L, b) && covers(L, a, b);
}

static int same(lua_State *L, int a, int b) {
    if (lua_type(L, a) != lua_type(L, b)) return 0;
    if (lua_type(L, a) == LUA_TTABLE) return same_table(L, a, b);
    if (cs_isinteger(L, a) != cs_isinteger(L, b)) return 0;
    if (lua_type(L, a) == LUA_TNUMBER && lua_tonumber(L, a) != lua_tonumber(L, a))
        return lua_tonumber(L, b) != lua_tonumber(L, b);
    return lua_rawequal(L, a, b);
}

/* Encodes the value at index 1; returns 0 if encode raised (message on top). */
static int encode(lua_State *L, int idx) {
    lua_pushcfunction(L, cs_l_json_encode);
    lua_pushvalue(L, idx);
    return lua_pcall(L, 1, 1, 0) == 0;
}

#define REFERENCE "spec/json_prune.lua"

static lua_State *state(void) {
    static lua_State *L;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        /* the reference requires connectstatus.core for the array metatable: this table is it */
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "loaded");
        lua_newtable(L);
        cs_json_register(L); /* creates the array metatable in the registry */
        lua_setfield(L, -2, "connectstatus.core");
        lua_pop(L, 2);
        if (luaL_loadfile(L, REFERENCE) != 0 || lua_pcall(L, 0, 1, 0) != 0)
            fail(lua_tostring(L, -1));
        lua_setfield(L, LUA_REGISTRYINDEX, REFERENCE);
    }
    return L;
}

/* Calls the reference's function `name` with the arguments on top of the stack; one result. */
static void reference(lua_State *L, const char *name, int nargs) {
    lua_getfield(L, LUA_REGISTRYINDEX, REFERENCE);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    lua_insert(L, -1 - nargs);
    if (lua_pcall(L, nargs, 1, 0) != 0) fail(lua_tostring(L, -1));
}

/* The selective decode of the input against the full one: the decoded value is at index 1 if the
 * full decode accepted it (full_err is then NULL). */
static void check_selection(lua_State *L, const uint8_t *data, size_t size, const char *full_err) {
    char err[128] = "";
    int top = lua_gettop(L), ok;
    cs_selection *sel;
    lua_pushlstring(L, (const char *)data, size);
    if (full_err == NULL)
        lua_pushvalue(L, 1);
    else
        lua_pushnil(L);
    reference(L, "fuzz_paths", 2); /* top + 1 */
    lua_pushcfunction(L, cs_l_json_selection);
    lua_pushvalue(L, top + 1);
    if (lua_pcall(L, 1, 1, 0) != 0) fail(lua_tostring(L, -1)); /* top + 2 */
    sel = (cs_selection *)lua_touserdata(L, top + 2);
    ok = cs_json_decode_sel(L, (const char *)data, size, 128, sel, err, sizeof err);
    cs_sel_free(sel); /* now: LuaJIT's own allocator hides the block from LeakSanitizer */
    if (full_err != NULL) {
        if (ok || strcmp(err, full_err) != 0) fail("a selection changed how an input is refused");
    } else {
        if (!ok) fail(err);
        lua_pushvalue(L, 1);
        lua_pushvalue(L, top + 1);
        reference(L, "prune", 2);
        if (!same(L, top + 3, top + 4))
            fail("a selected decode differs from the pruned full decode");
    }
    lua_settop(L, top);
}

static void round_trip(lua_State *L) {
    char err[128];
    size_t n1, n2;
    const char *t1;
    if (!encode(L, 1)) {
        if (strstr(lua_tostring(L, -1), "inf") == NULL) fail(lua_tostring(L, -1));
        return;
    }
    t1 = lua_tolstring(L, 2, &n1);
    if (!cs_json_decode_sel(L, t1, n1, 128, NULL, err, sizeof err)) fail(err);
    if (!same(L, 1, 3)) fail("encode -> decode changed the value");
    if (!encode(L, 3)) fail(lua_tostring(L, -1));
    lua_tolstring(L, 4, &n2);
    if (n1 != n2) fail("a second encode gave text of another length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = state();
    char err[128];
    err[0] = '\0';
    lua_settop(L, 0);
    if (cs_json_decode_sel(L, (const char *)data, size, 128, NULL, err, sizeof err)) {
        if (lua_gettop(L) != 1) fail("decode pushed other than one value");
        round_trip(L);
        lua_settop(L, 1);
        check_selection(L, data, size, NULL);
    } else if (lua_gettop(L) != 0 || strstr(err, " at byte ") == NULL) {
        fail("a rejected input left values on the stack or gave no position");
    } else {
        check_selection(L, data, size, err);
    }
    lua_settop(L, 0);
    return 0;
}
