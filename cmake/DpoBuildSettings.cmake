# Language level, output folders, compiler cache and warnings shared by every target.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# Release with asserts: the invariants in the code stay checked in the builds we test.
if(DPO_KEEP_ASSERTS)
  foreach(config RELEASE RELWITHDEBINFO)
    string(REPLACE "-DNDEBUG" "" CMAKE_CXX_FLAGS_${config} "${CMAKE_CXX_FLAGS_${config}}")
  endforeach()
endif()

# libtorch.so (the pip wheel) exports its own copies of std::filesystem functions, and the dynamic
# linker binds each symbol to the first library in link order that defines it: with LibTorch ahead
# of libstdc++, std::filesystem::remove_all jumps to address 0. Linking libstdc++ first, for
# every target, binds std:: to the system's libstdc++.
link_libraries(stdc++)

set(CMAKE_RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/bin")
set(CMAKE_ARCHIVE_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")
set(CMAKE_LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")

# ccache, when present. Precompiled headers need these sloppiness settings to be cacheable; paths
# are hashed relative to the source tree (CCACHE_BASEDIR, no working directory), so a fresh clone
# elsewhere -- CI's -- reuses what an earlier build of the same sources compiled.
find_program(DPO_CCACHE ccache)
if(DPO_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND}" -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" "CCACHE_NOHASHDIR=1"
      "${DPO_CCACHE}")
endif()

# Warnings for the project's own targets (never for generated or third-party code).
function(dpo_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endfunction()

# LibTorch's headers are the cost of a build (~25 s per translation unit on 2 cores): every
# target that includes them shares one precompiled header built once for dpo_core.
function(dpo_use_torch_pch target)
  target_precompile_headers(${target} REUSE_FROM dpo_core)
endfunction()
