package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The few OrtApi entries used here, by position. OrtApi is a table of
// function pointers that ONNX Runtime only ever appends to (its ABI
// promise), so an entry's index is the same in every release that has it;
// these are the indices in onnxruntime_c_api.h (API 24, as bundled with
// onnxruntime_go), from offsetof(OrtApi, NAME) / sizeof(void*).
enum {
	efGetErrorMessage = 2,
	efReleaseStatus = 93,
	efGetAvailableProviders = 125,
	efReleaseAvailableProviders = 126,
};

typedef struct efStatus efStatus;
typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} efApiBase;
typedef const efApiBase *(*efGetApiBase)(void);
typedef efStatus *(*efGetProviders)(char ***out, int *n);
typedef efStatus *(*efReleaseProviders)(char **ptr, int n);
typedef const char *(*efErrorMessage)(const efStatus *s);
typedef void (*efReleaseStatusFn)(efStatus *s);

// ef_providers lists the execution providers compiled into the ONNX
// Runtime library at path, which must already be loaded (RTLD_NOLOAD: this
// never loads a second copy). It returns 0 and a malloc'd, newline-
// separated list, or nonzero and a malloc'd message.
static int ef_providers(const char *path, uint32_t api_version, char **out) {
	*out = NULL;
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (!h) { *out = strdup("library not loaded"); return 1; }
	efGetApiBase base = (efGetApiBase)dlsym(h, "OrtGetApiBase");
	if (!base) { dlclose(h); *out = strdup("no OrtGetApiBase"); return 1; }
	void *const *api = (void *const *)base()->GetApi(api_version);
	if (!api) { dlclose(h); *out = strdup("library does not offer the C API version asked for"); return 1; }
	char **names = NULL;
	int n = 0;
	efStatus *st = ((efGetProviders)api[efGetAvailableProviders])(&names, &n);
	if (st) {
		const char *msg = ((efErrorMessage)api[efGetErrorMessage])(st);
		*out = strdup(msg ? msg : "GetAvailableProviders failed");
		((efReleaseStatusFn)api[efReleaseStatus])(st);
		dlclose(h);
		return 1;
	}
	size_t len = 1;
	for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
	char *s = malloc(len), *p = s;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		memcpy(p, names[i], l);
		p += l;
		*p++ = '\n';
	}
	*p = 0;
	st = ((efReleaseProviders)api[efReleaseAvailableProviders])(names, n);
	if (st) ((efReleaseStatusFn)api[efReleaseStatus])(st);
	dlclose(h);
	*out = s;
	return 0;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// cAPIVersion is the ONNX Runtime C API version asked of the library: the
// one onnxruntime_go was built against, which any library it loaded offers.
const cAPIVersion = 24

// AvailableProviders lists the execution providers compiled into the
// loaded ONNX Runtime library, as ONNX Runtime names them
// ("CPUExecutionProvider", "CUDAExecutionProvider", ...), initialising the
// environment first (see Init). A provider listed may still fail to start
// when its own libraries (CUDA, cuDNN, TensorRT) are missing; one that is
// not listed cannot be used. Execution-provider plugin libraries
// registered at run time are not listed.
func AvailableProviders(library string) ([]string, error) {
	lib, err := Init(library)
	if err != nil {
		return nil, err
	}
	cpath := C.CString(lib)
	defer C.free(unsafe.Pointer(cpath))
	var out *C.char
	rc := C.ef_providers(cpath, C.uint32_t(cAPIVersion), &out)
	s := C.GoString(out)
	C.free(unsafe.Pointer(out))
	if rc != 0 {
		return nil, fmt.Errorf("%w: %s: listing execution providers: %s", ErrLibrary, lib, s)
	}
	return strings.Fields(s), nil
}
