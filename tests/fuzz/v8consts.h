/* v8consts: the V8 layout the fuzz targets and tests/unit/test_v8decode.c describe their
 * synthetic heaps and stacks with, by name as node exports it (v8dbg_*): a 64-bit build
 * without pointer compression, V8 12-13's BytecodeArray and optimized-code layout. */
#ifndef SP_FUZZ_V8CONSTS_H
#define SP_FUZZ_V8CONSTS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const struct {
    const char *name;
    int64_t value;
} sp_fuzz_v8consts[] = {
    {"v8dbg_off_fp_function", -16},
    {"v8dbg_off_fp_context", -8},
    {"v8dbg_off_fp_bytecode_array", -32},
    {"v8dbg_off_fp_bytecode_offset", -40},
    {"v8dbg_SmiShiftSize", 31},
    {"v8dbg_HeapObjectTag", 1},
    {"v8dbg_HeapObjectTagMask", 3},
    {"v8dbg_class_HeapObject__map__Map", 0},
    {"v8dbg_class_Map__instance_type__uint16_t", 12},
    {"v8dbg_class_JSFunction__shared__SharedFunctionInfo", 24},
    {"v8dbg_FirstJSFunctionType", 2066},
    {"v8dbg_LastJSFunctionType", 2082},
    {"v8dbg_type_InterpreterData__INTERPRETER_DATA_TYPE", 207},
    {"v8dbg_class_SharedFunctionInfo__name_or_scope_info__Tagged_NameOrScopeInfoT_", 16},
    {"v8dbg_class_SharedFunctionInfo__script__Tagged_HeapObject_", 32},
    {"v8dbg_class_Script__name__Object", 16},
    {"v8dbg_class_Script__line_ends__Object", 56},
    {"v8dbg_class_FixedArrayBase__length__SMI", 8},
    {"v8dbg_class_FixedArray__data__uintptr_t", 16},
    {"v8dbg_class_String__length__int32_t", 12},
    {"v8dbg_class_SeqOneByteString__chars__char", 16},
    {"v8dbg_class_SeqTwoByteString__chars__char", 16},
    {"v8dbg_class_ConsString__first__String", 16},
    {"v8dbg_class_ConsString__second__String", 24},
    {"v8dbg_class_ThinString__actual__String", 16},
    {"v8dbg_FirstNonstringType", 128},
    {"v8dbg_StringRepresentationMask", 7},
    {"v8dbg_StringEncodingMask", 8},
    {"v8dbg_SeqStringTag", 0},
    {"v8dbg_ConsStringTag", 1},
    {"v8dbg_ThinStringTag", 5},
    {"v8dbg_OneByteStringTag", 8},
    {"v8dbg_type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE", 262},
    {"v8dbg_type_BytecodeArray__BYTECODE_ARRAY_TYPE", 191},
    {"v8dbg_type_ScopeInfo__SCOPE_INFO_TYPE", 261},
    {"v8dbg_type_Script__SCRIPT_TYPE", 167},
    {"v8dbg_type_FixedArray__FIXED_ARRAY_TYPE", 175},
    {"v8dbg_scopeinfo_idx_first_vars", 5},
    {"v8dbg_scopeinfo_idx_ncontextlocals", 2},
    /* source positions and optimized code (V8 12-13: Node 22-24) */
    {"sp_v8_major", 13},
    {"v8dbg_class_BytecodeArray__data__uintptr_t", 64},
    {"v8dbg_class_BytecodeArray__length__SMI", 8},
    {"v8dbg_class_BytecodeArray__wrapper__Tagged_BytecodeWrapper_", 16},
    {"v8dbg_type_ByteArray__BYTE_ARRAY_TYPE", 186},
    {"v8dbg_type_TrustedByteArray__TRUSTED_BYTE_ARRAY_TYPE", 212},
    {"v8dbg_type_Oddball__ODDBALL_TYPE", 131},
    {"v8dbg_type_Code__CODE_TYPE", 150},
    {"v8dbg_type_InstructionStream__INSTRUCTION_STREAM_TYPE", 151},
    {"v8dbg_CodeKindFieldMask", 15},
    {"v8dbg_CodeKindFieldShift", 0},
    {"v8dbg_CodeKindBaseline", 11},
    {"v8dbg_class_InstructionStream__instruction_start__uintptr_t", 64},
    {"v8dbg_class_Code__instruction_start__Address", 40},
    {"v8dbg_class_Code__instruction_size__int", 48},
    {"v8dbg_class_Code__flags__uint32_t", 52},
    {"v8dbg_DeoptimizationDataInlinedFunctionCountIndex", 1},
    {"v8dbg_DeoptimizationDataLiteralArrayIndex", 2},
    {"v8dbg_DeoptimizationDataSharedFunctionInfoIndex", 6},
    {"v8dbg_DeoptimizationDataInliningPositionsIndex", 7},
};

static inline bool sp_fuzz_v8get(const char *name, int64_t *value)
{
    for (size_t i = 0; i < sizeof sp_fuzz_v8consts / sizeof *sp_fuzz_v8consts; i++)
        if (strcmp(sp_fuzz_v8consts[i].name, name) == 0)
            return (*value = sp_fuzz_v8consts[i].value), true;
    return false;
}

#endif
