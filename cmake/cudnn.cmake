# cuDNN for the fused-attention path (kernels/cuda/attention_cudnn.cpp, `run --attention cudnn`).
# Needs two things, looked for only when SHARDRT_CUDNN is on:
# - cuDNN 9: cudnn.h and libcudnn (beside the CUDA toolkit, in CUDNN_ROOT, or in a pip wheel's
#   nvidia/cudnn as PyTorch installs it). The binary records the soname, libcudnn.so.9, so that
#   the GPU machine's copy (PyTorch's, on LD_LIBRARY_PATH) is the one loaded.
# - the cuDNN frontend, header-only C++ (cudnn_frontend.h), which Debian does not package: the
#   PyPI package nvidia-cudnn-frontend ships it under include/, and python3 says where
#   (scripts/install-deps.sh installs it, pinned, into /opt/shardrt/python when the python3
#   environment lacks it). CUDNN_FRONTEND_INCLUDE_DIR overrides the search.
# Either missing: configure says so and builds without the path; `--attention cudnn` is then
# refused at run time in one line.
# Sets SHARDRT_HAVE_CUDNN and, when ON, the interface target shardrt_cudnn.
set(SHARDRT_HAVE_CUDNN OFF)
if(NOT SHARDRT_CUDNN)
  message(STATUS "shardrt: cuDNN attention OFF (SHARDRT_CUDNN=OFF)")
  return()
endif()

set(SHARDRT_PIP_TARGET /opt/shardrt/python CACHE PATH
    "Where scripts/install-deps.sh pip-installs Python packages the build reads (--target)")
find_program(SHARDRT_PYTHON3 python3)

# The include/ folder of an installed pip distribution holding FILE, asked of python3 (with
# SHARDRT_PIP_TARGET on its path); empty when python3 or the distribution is missing.
function(shardrt_pip_include out distribution file)
  set(${out} "" PARENT_SCOPE)
  if(NOT SHARDRT_PYTHON3)
    return()
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env "PYTHONPATH=${SHARDRT_PIP_TARGET}:$ENV{PYTHONPATH}"
            ${SHARDRT_PYTHON3} -c
            "import importlib.metadata as m, os
d = m.distribution('${distribution}')
print(next(os.path.dirname(str(f.locate())) for f in d.files if str(f).endswith('${file}')))"
    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND EXISTS "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  endif()
endfunction()

# cuDNN itself: the toolkit's folders first, then a PyTorch-style wheel (nvidia-cudnn-cu*).
shardrt_pip_include(cudnn_wheel_include nvidia-cudnn-cu13 include/cudnn.h)
if(NOT cudnn_wheel_include)
  shardrt_pip_include(cudnn_wheel_include nvidia-cudnn-cu12 include/cudnn.h)
endif()
set(cudnn_hints ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDNN_ROOT}/include ${cudnn_wheel_include})
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${cudnn_hints})
get_filename_component(cudnn_wheel_lib "${cudnn_wheel_include}/../lib" ABSOLUTE)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
             HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_DIR}/../lib $ENV{CUDNN_ROOT}/lib
                   $ENV{CUDNN_ROOT}/lib64 ${cudnn_wheel_lib})

if(NOT CUDNN_FRONTEND_INCLUDE_DIR)
  shardrt_pip_include(frontend_include nvidia-cudnn-frontend include/cudnn_frontend.h)
endif()
find_path(CUDNN_FRONTEND_INCLUDE_DIR cudnn_frontend.h HINTS ${frontend_include})

set(missing "")
if(NOT EXISTS "${CUDNN_INCLUDE_DIR}/cudnn_version.h" OR NOT EXISTS "${CUDNN_LIBRARY}")
  list(APPEND missing "cuDNN 9 (cudnn.h, libcudnn; set CUDNN_ROOT)")
else()
  file(STRINGS ${CUDNN_INCLUDE_DIR}/cudnn_version.h cudnn_major REGEX "define CUDNN_MAJOR")
  string(REGEX MATCH "[0-9]+" cudnn_major "${cudnn_major}")
  if(NOT cudnn_major EQUAL 9)
    list(APPEND missing "cuDNN 9 (found major version ${cudnn_major} at ${CUDNN_INCLUDE_DIR})")
  endif()
endif()
if(NOT EXISTS "${CUDNN_FRONTEND_INCLUDE_DIR}/cudnn_frontend.h")
  list(APPEND missing
       "the cuDNN frontend headers (pip install nvidia-cudnn-frontend, or set CUDNN_FRONTEND_INCLUDE_DIR)")
endif()
if(missing)
  string(JOIN "; " missing ${missing})
  message(WARNING "shardrt: SHARDRT_CUDNN is ON but ${missing} not found: building without the "
                  "cuDNN attention path (`run --attention cudnn` will be refused)")
  return()
endif()

# SYSTEM: the frontend's headers are not ours to keep free of -Wpedantic warnings.
add_library(shardrt_cudnn INTERFACE)
target_include_directories(shardrt_cudnn SYSTEM INTERFACE ${CUDNN_INCLUDE_DIR}
                                                          ${CUDNN_FRONTEND_INCLUDE_DIR})
target_link_libraries(shardrt_cudnn INTERFACE ${CUDNN_LIBRARY})
set(SHARDRT_HAVE_CUDNN ON)
message(STATUS "shardrt: cuDNN attention ON (${CUDNN_LIBRARY}, cuDNN ${cudnn_major}; frontend "
               "${CUDNN_FRONTEND_INCLUDE_DIR})")
