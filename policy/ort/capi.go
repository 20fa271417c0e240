package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The OrtApi entries efferent calls itself, by position: onnxruntime_go
// wraps most of the API, but not the execution-provider device API
// (GetEpDevices, SessionOptionsAppendExecutionProvider_V2, the EP's
// memory info and shared allocator) nor tensors over device memory.
// OrtApi is a table of function pointers that ONNX Runtime only ever
// appends to (its ABI promise), so an entry's index is the same in every
// release that has it. These are offsetof(OrtApi, NAME) / sizeof(void*)
// in onnxruntime_c_api.h as bundled with onnxruntime_go (API 24);
// TestCAPIIndices recomputes them from that header.
enum {
	efGetErrorMessage = 2,
	efCreateEnv = 3,
	efCreateTensorWithDataAsOrtValue = 49,
	efCreateCpuMemoryInfo = 69,
	efMemoryInfoGetName = 71,
	efAllocatorAlloc = 75,
	efAllocatorFree = 76,
	efGetAllocatorWithDefaultOptions = 78,
	efReleaseStatus = 93,
	efReleaseMemoryInfo = 94,
	efReleaseValue = 96,
	efGetAvailableProviders = 125,
	efReleaseAvailableProviders = 126,
	efGetEpDevices = 303,
	efSessionOptionsAppendExecutionProvider_V2 = 304,
	efHardwareDevice_Type = 307,
	efEpDevice_EpName = 312,
	efEpDevice_Device = 316,
	efEpDevice_MemoryInfo = 374,
	efGetSharedAllocator = 376,
};

typedef struct efStatus efStatus;
typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} efApiBase;
typedef const efApiBase *(*efGetApiBase)(void);

static void *const *ef_api;

// ef_status turns a non-NULL OrtStatus into a malloc'd message and
// releases it.
static char *ef_status(efStatus *st) {
	if (!st) return NULL;
	const char *msg = ((const char *(*)(const efStatus *))ef_api[efGetErrorMessage])(st);
	char *s = strdup(msg ? msg : "ONNX Runtime error");
	((void (*)(efStatus *))ef_api[efReleaseStatus])(st);
	return s;
}

// ef_load finds the OrtApi table of the library at path, which must
// already be loaded (RTLD_NOLOAD: never a second copy).
static char *ef_load(const char *path, uint32_t version) {
	if (ef_api) return NULL;
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (!h) return strdup("library not loaded");
	efGetApiBase base = (efGetApiBase)dlsym(h, "OrtGetApiBase");
	// The handle is kept: the library stays loaded for the process.
	if (!base) return strdup("no OrtGetApiBase");
	void *const *api = (void *const *)base()->GetApi(version);
	if (!api) return strdup("library does not offer the C API version asked for");
	ef_api = api;
	return NULL;
}

// ef_providers lists the execution providers compiled into the library,
// newline-separated, into *out.
static char *ef_providers(char **out) {
	char **names = NULL;
	int n = 0;
	char *err = ef_status(((efStatus *(*)(char ***, int *))ef_api[efGetAvailableProviders])(&names, &n));
	if (err) return err;
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
	free(ef_status(((efStatus *(*)(char **, int))ef_api[efReleaseAvailableProviders])(names, n)));
	*out = s;
	return NULL;
}

// ef_env returns the process's OrtEnv. ONNX Runtime keeps one environment
// per process and CreateEnv hands back that one (counting a reference),
// so this is the environment onnxruntime_go created; the reference is
// kept for the life of the process.
static char *ef_env(void **env) {
	return ef_status(((efStatus *(*)(int, const char *, void **))ef_api[efCreateEnv])(3, "efferent", env));
}

static char *ef_ep_devices(void *env, const void *const **devs, size_t *n) {
	return ef_status(((efStatus *(*)(const void *, const void *const **, size_t *))ef_api[efGetEpDevices])(env, devs, n));
}

static const char *ef_ep_name(const void *dev) {
	return ((const char *(*)(const void *))ef_api[efEpDevice_EpName])(dev);
}

// ef_ep_hw is the device type of an EP device's hardware: 0 CPU, 1 GPU,
// 2 NPU (OrtHardwareDeviceType).
static int ef_ep_hw(const void *dev) {
	const void *hw = ((const void *(*)(const void *))ef_api[efEpDevice_Device])(dev);
	return hw ? ((int (*)(const void *))ef_api[efHardwareDevice_Type])(hw) : -1;
}

// ef_ep_mem is the EP device's default memory (NULL: the EP uses CPU
// memory).
static const void *ef_ep_mem(const void *dev) {
	return ((const void *(*)(const void *, int))ef_api[efEpDevice_MemoryInfo])(dev, 0);
}

static char *ef_append_v2(void *opts, void *env, const void *dev, const char *const *keys, const char *const *vals, size_t n) {
	const void *devs[1] = {dev};
	return ef_status(((efStatus *(*)(void *, void *, const void *const *, size_t, const char *const *, const char *const *, size_t))
		ef_api[efSessionOptionsAppendExecutionProvider_V2])(opts, env, devs, 1, keys, vals, n));
}

// ef_cpu_mem makes a CPU memory info (OrtDeviceAllocator, OrtMemTypeDefault).
static char *ef_cpu_mem(void **mem) {
	return ef_status(((efStatus *(*)(int, int, void **))ef_api[efCreateCpuMemoryInfo])(1, 0, mem));
}

static char *ef_mem_name(const void *mem, const char **name) {
	return ef_status(((efStatus *(*)(const void *, const char **))ef_api[efMemoryInfoGetName])(mem, name));
}

// ef_allocator is the environment's shared allocator for mem, or ONNX
// Runtime's default CPU allocator when mem is NULL.
static char *ef_allocator(void *env, const void *mem, void **alloc) {
	*alloc = NULL;
	if (mem) {
		char *err = ef_status(((efStatus *(*)(void *, const void *, void **))ef_api[efGetSharedAllocator])(env, mem, alloc));
		if (err || *alloc) return err;
		return strdup("no shared allocator for the device's memory");
	}
	return ef_status(((efStatus *(*)(void **))ef_api[efGetAllocatorWithDefaultOptions])(alloc));
}

static char *ef_alloc(void *alloc, size_t n, void **p) {
	return ef_status(((efStatus *(*)(void *, size_t, void **))ef_api[efAllocatorAlloc])(alloc, n, p));
}

static void ef_free(void *alloc, void *p) {
	free(ef_status(((efStatus *(*)(void *, void *))ef_api[efAllocatorFree])(alloc, p)));
}

static char *ef_tensor(const void *mem, void *p, size_t bytes, const int64_t *shape, size_t nd, int type, void **val) {
	return ef_status(((efStatus *(*)(const void *, void *, size_t, const int64_t *, size_t, int, void **))
		ef_api[efCreateTensorWithDataAsOrtValue])(mem, p, bytes, shape, nd, type, val));
}

static void ef_release_value(void *v) {
	((void (*)(void *))ef_api[efReleaseValue])(v);
}

*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"
)

// cAPIVersion is the ONNX Runtime C API version asked of the library: the
// one onnxruntime_go was built against, which any library it loaded offers.
const cAPIVersion = 24

// capi is the loaded library's OrtApi table and environment, set up once
// after Init.
var capi struct {
	sync.Mutex
	env unsafe.Pointer
	err error
}

// cError turns a malloc'd C message (nil: success) into an error.
func cError(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}

// loadCAPI finds the OrtApi table and the environment of the library
// Init loaded.
func loadCAPI(library string) (env unsafe.Pointer, err error) {
	lib, err := Init(library)
	if err != nil {
		return nil, err
	}
	capi.Lock()
	defer capi.Unlock()
	if capi.env != nil || capi.err != nil {
		return capi.env, capi.err
	}
	cpath := C.CString(lib)
	defer C.free(unsafe.Pointer(cpath))
	if err := cError(C.ef_load(cpath, C.uint32_t(cAPIVersion))); err != nil {
		capi.err = fmt.Errorf("%w: %s: %v", ErrLibrary, lib, err)
		return nil, capi.err
	}
	var e unsafe.Pointer
	if err := cError(C.ef_env(&e)); err != nil {
		capi.err = fmt.Errorf("%w: %s: environment: %v", ErrLibrary, lib, err)
		return nil, capi.err
	}
	capi.env = e
	return e, nil
}

// compiledProviders lists the execution providers compiled into the
// loaded library.
func compiledProviders(library string) ([]string, error) {
	if _, err := loadCAPI(library); err != nil {
		return nil, err
	}
	var out *C.char
	if err := cError(C.ef_providers(&out)); err != nil {
		return nil, fmt.Errorf("%w: listing execution providers: %v", ErrLibrary, err)
	}
	s := C.GoString(out)
	C.free(unsafe.Pointer(out))
	return strings.Fields(s), nil
}

// epDevice is one (execution provider, device) pair ONNX Runtime offers:
// the CPU, and each device of each registered plugin library.
type epDevice struct {
	p   unsafe.Pointer // const OrtEpDevice*, owned by the environment
	ep  string         // the provider's name, e.g. "CUDAExecutionProvider"
	hw  int            // 0 CPU, 1 GPU, 2 NPU
	mem unsafe.Pointer // the device's default memory; nil: CPU memory
}

// hwNames name OrtHardwareDeviceType values.
var hwNames = map[int]string{0: "CPU", 1: "GPU", 2: "NPU"}

func (d epDevice) String() string {
	return fmt.Sprintf("%s on %s", d.ep, hwNames[d.hw])
}

// epDevices lists the environment's execution-provider devices.
func epDevices(env unsafe.Pointer) ([]epDevice, error) {
	var devs *unsafe.Pointer
	var n C.size_t
	if err := cError(C.ef_ep_devices(env, &devs, &n)); err != nil {
		return nil, fmt.Errorf("%w: listing execution-provider devices: %v", ErrProvider, err)
	}
	out := make([]epDevice, 0, int(n))
	for _, p := range unsafe.Slice(devs, int(n)) {
		out = append(out, epDevice{p: p, ep: C.GoString(C.ef_ep_name(p)), hw: int(C.ef_ep_hw(p)), mem: unsafe.Pointer(C.ef_ep_mem(p))})
	}
	return out, nil
}

// appendEPDevice adds dev's execution provider, with options, to opts.
func appendEPDevice(opts *onnx.SessionOptions, env unsafe.Pointer, dev epDevice, options map[string]string) error {
	o, err := sessionOptionsPointer(opts)
	if err != nil {
		return err
	}
	var keys, vals []*C.char
	for k, v := range options {
		keys, vals = append(keys, C.CString(k)), append(vals, C.CString(v))
	}
	defer func() {
		for i := range keys {
			C.free(unsafe.Pointer(keys[i]))
			C.free(unsafe.Pointer(vals[i]))
		}
	}()
	// The arrays are Go memory holding C pointers, which cgo allows.
	var kp, vp **C.char
	if len(keys) > 0 {
		kp, vp = &keys[0], &vals[0]
	}
	return cError(C.ef_append_v2(o, env, dev.p, kp, vp, C.size_t(len(keys))))
}

// sessionOptionsPointer is the OrtSessionOptions* inside onnxruntime_go's
// SessionOptions, which does not export it. reflect reads the field by
// name, so a new onnxruntime_go that renames or retypes it fails here,
// with this message, instead of corrupting memory.
func sessionOptionsPointer(opts *onnx.SessionOptions) (unsafe.Pointer, error) {
	f := reflect.ValueOf(opts).Elem().FieldByName("o")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("%w: onnxruntime_go's SessionOptions has no pointer field o (efferent is built for onnxruntime_go v1.27.0)", ErrLibrary)
	}
	return f.UnsafePointer(), nil
}

// setValuePointer makes vid hold the OrtValue* p: onnxruntime_go binds a
// Value through its internals, which it does not let a caller build.
func setValuePointer(vid *onnx.ValueInternalData, p unsafe.Pointer) error {
	f := reflect.ValueOf(vid).Elem().FieldByName("ortValue")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return fmt.Errorf("%w: onnxruntime_go's ValueInternalData has no pointer field ortValue (efferent is built for onnxruntime_go v1.27.0)", ErrLibrary)
	}
	*(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr())) = p
	return nil
}

// memoryName is ONNX Runtime's name of a memory info ("Cpu", "Cuda", ...).
func memoryName(mem unsafe.Pointer) string {
	if mem == nil {
		return "Cpu"
	}
	var name *C.char
	if err := cError(C.ef_mem_name(mem, &name)); err != nil {
		return "?"
	}
	return C.GoString(name)
}

// cpuMem is ONNX Runtime's CPU memory info, made once and kept for the
// process.
var cpuMem struct {
	once sync.Once
	p    unsafe.Pointer
	err  error
}

// cpuMemoryInfo is ONNX Runtime's CPU memory info.
func cpuMemoryInfo() (unsafe.Pointer, error) {
	cpuMem.once.Do(func() { cpuMem.err = cError(C.ef_cpu_mem(&cpuMem.p)) })
	return cpuMem.p, cpuMem.err
}

// sharedAllocator is the environment's allocator for mem (nil: ONNX
// Runtime's default CPU allocator).
func sharedAllocator(env, mem unsafe.Pointer) (unsafe.Pointer, error) {
	var alloc unsafe.Pointer
	return alloc, cError(C.ef_allocator(env, mem, &alloc))
}

// allocBytes allocates n bytes with alloc.
func allocBytes(alloc unsafe.Pointer, n int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if err := cError(C.ef_alloc(alloc, C.size_t(n), &p)); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("allocator returned no memory for %d bytes", n)
	}
	return p, nil
}

func freeBytes(alloc, p unsafe.Pointer) { C.ef_free(alloc, p) }

// newTensorValue makes an OrtValue over bytes of memory p (of memory
// info mem), of the given shape and element type.
func newTensorValue(mem, p unsafe.Pointer, bytes int, shape []int64, dtype onnx.TensorElementDataType) (unsafe.Pointer, error) {
	var v unsafe.Pointer
	err := cError(C.ef_tensor(mem, p, C.size_t(bytes), (*C.int64_t)(unsafe.Pointer(&shape[0])), C.size_t(len(shape)), C.int(dtype), &v))
	return v, err
}

func releaseValue(v unsafe.Pointer) { C.ef_release_value(v) }
