# Finds every external package. LibTorch is torch's own, from the Python environment that
# scripts/install-deps creates at .venv/ (pinned in python/requirements.txt, CUDA compiled in);
# everything else comes from Debian bookworm (docs/architecture.md, "Dependencies").

# The Python that holds torch. Its LibTorch is the project's one LibTorch, its nvidia-nccl package
# the NCCL that both torch and the NcclCommunicator load (never two NCCLs in one process), and
# the tests run the Python peers (transformers, tokenizers, trl) with it.
set(DPO_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python interpreter whose torch provides LibTorch (scripts/install-deps creates .venv)")
if(NOT EXISTS "${DPO_PYTHON}")
  message(FATAL_ERROR "dpo: DPO_PYTHON=${DPO_PYTHON} does not exist: run scripts/install-deps, "
                      "or pass -DDPO_PYTHON=<a python with torch 2.x>")
endif()
execute_process(
  COMMAND "${DPO_PYTHON}" -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path, end='')"
  OUTPUT_VARIABLE DPO_TORCH_PREFIX RESULT_VARIABLE torch_found ERROR_VARIABLE torch_error)
if(NOT torch_found EQUAL 0)
  message(FATAL_ERROR "dpo: ${DPO_PYTHON} cannot import torch: ${torch_error}")
endif()
list(APPEND CMAKE_PREFIX_PATH "${DPO_TORCH_PREFIX}")
if(NOT NCCL_ROOT)
  execute_process(
    COMMAND "${DPO_PYTHON}" -c "import nvidia.nccl as n; print(list(n.__path__)[0], end='')"
    OUTPUT_VARIABLE nccl_package RESULT_VARIABLE nccl_found ERROR_QUIET)
  if(nccl_found EQUAL 0)
    set(NCCL_ROOT "${nccl_package}" CACHE PATH "NCCL installation (include/, lib/): torch's nvidia-nccl package")
  endif()
endif()
# Protobuf before LibTorch: torch's CMake config defines protobuf::libprotobuf as an empty
# placeholder when no such target exists yet, and gRPC code would then link no protobuf at all.
if(DPO_WITH_GRPC)
  find_package(Protobuf REQUIRED)
  find_package(gRPC CONFIG REQUIRED)
endif()
find_package(Torch 2.4 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)  # target `yaml-cpp`, no namespace (0.7)
find_package(CLI11 REQUIRED)

# CUDA follows the LibTorch that was found.
if(DPO_WITH_CUDA STREQUAL "AUTO")
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    set(DPO_CUDA_ENABLED ON)
  else()
    set(DPO_CUDA_ENABLED OFF)
  endif()
else()
  set(DPO_CUDA_ENABLED ${DPO_WITH_CUDA})
endif()
message(STATUS "dpo: LibTorch ${Torch_VERSION}, CUDA ${DPO_CUDA_ENABLED}")

# The project's kernels (core/cuda) are compiled for these GPUs: A100 machine code, Hopper
# machine code and Hopper PTX (which newer GPUs compile at load time).
if(DPO_CUDA_ENABLED)
  enable_language(CUDA)
  set(DPO_CUDA_ARCHITECTURES "80-real;90" CACHE STRING "CUDA architectures of the project's own kernels")
endif()

# NCCL: the one torch loads (NCCL_ROOT, found above from the nvidia-nccl package). When
# NCCL_ROOT is set nothing else is searched, so header and library match torch's; the CUDA
# toolkit's own NCCL is used only when no NCCL_ROOT is known.
if(DPO_CUDA_ENABLED)
  if(NCCL_ROOT)
    set(nccl_search HINTS "${NCCL_ROOT}" NO_DEFAULT_PATH)
  else()
    set(nccl_search HINTS ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_DIR})
  endif()
  find_path(NCCL_INCLUDE_DIR nccl.h ${nccl_search} PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR ${nccl_search} PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(DPO_NCCL_ENABLED ON)
    add_library(dpo_nccl INTERFACE)
    target_include_directories(dpo_nccl INTERFACE "${NCCL_INCLUDE_DIR}")
    target_link_libraries(dpo_nccl INTERFACE "${NCCL_LIBRARY}")
  else()
    set(DPO_NCCL_ENABLED OFF)
    message(WARNING "dpo: CUDA LibTorch without NCCL (set NCCL_ROOT): no NcclCommunicator")
  endif()
  message(STATUS "dpo: NCCL ${DPO_NCCL_ENABLED} (${NCCL_INCLUDE_DIR}, ${NCCL_LIBRARY})")
endif()

if(DPO_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)
endif()
if(DPO_WITH_PROMETHEUS)
  find_package(prometheus-cpp CONFIG REQUIRED)  # no version file: never ask for a version
endif()
if(DPO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Tokenizers: PCRE2 (tokenizer.json split regexes need Unicode properties and lookahead) and ICU
# (Unicode normalizers, e.g. Qwen2's NFC). Both optional: without them HF tokenizers that need
# them fail to load with a message saying so, and everything else builds.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
endif()
if(NOT TARGET PkgConfig::PCRE2)
  find_path(PCRE2_INCLUDE_DIR pcre2.h)
  find_library(PCRE2_LIBRARY pcre2-8)
endif()
if(TARGET PkgConfig::PCRE2 OR (PCRE2_INCLUDE_DIR AND PCRE2_LIBRARY))
  add_library(dpo_pcre2 INTERFACE)
  if(TARGET PkgConfig::PCRE2)
    target_link_libraries(dpo_pcre2 INTERFACE PkgConfig::PCRE2)
  else()
    target_include_directories(dpo_pcre2 INTERFACE "${PCRE2_INCLUDE_DIR}")
    target_link_libraries(dpo_pcre2 INTERFACE "${PCRE2_LIBRARY}")
  endif()
else()
  message(WARNING "dpo: PCRE2 not found (libpcre2-dev): HF tokenizer.json files cannot be loaded")
endif()
find_package(ICU QUIET COMPONENTS uc)
if(ICU_FOUND)
  add_library(dpo_icu INTERFACE)
  target_link_libraries(dpo_icu INTERFACE ICU::uc)
else()
  message(WARNING "dpo: ICU not found (libicu-dev): tokenizer.json Unicode normalizers are unavailable")
endif()
message(STATUS "dpo: tokenizers: PCRE2 ${PCRE2_VERSION}${PCRE2_LIBRARY}, ICU ${ICU_VERSION}")
