package cv

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
void efferentCVSetThreads(int n);
int efferentCVThreads(void);
*/
import "C"

// OpenCV runs every call on the thread that makes it. Its own pool (TBB in
// Debian's build) would split a 640×480 resize across the cores and then
// keep its workers spinning, taking the cores from the model and the
// connections: with it, a 640×480 request's resizes took longer under load
// and the model ran slower (bench serve --image 480x640, docs/performance.md).
// efferent's parallelism is its own: the server's decoders resize the
// cameras of one request at once where several are free, each on its own
// thread.
func init() { SetThreads(1) }

// SetThreads sets how many threads OpenCV may use for one call, as
// cv::setNumThreads does: 1 runs every call on the calling thread
// (efferent's setting), a negative n restores OpenCV's default (all
// cores). It is process-wide.
func SetThreads(n int) { C.efferentCVSetThreads(C.int(n)) }

// Threads is OpenCV's thread count for one call.
func Threads() int { return int(C.efferentCVThreads()) }
