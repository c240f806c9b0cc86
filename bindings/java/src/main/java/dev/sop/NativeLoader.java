package dev.sop;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import java.io.File;

/**
 * Finds {@code libsop_ffi}, binds {@link SopNative} to it and checks its ABI version,
 * once per class loader.
 *
 * <p>Where the library is looked for, first match wins:
 * <ol>
 *   <li>the file named by the system property {@value #PATH_PROPERTY};
 *   <li>the file named by the environment variable {@value #PATH_ENV};
 *   <li>JNA's own search for {@code sop_ffi}: {@code jna.library.path}, the system's
 *       library path, then the class path under JNA's resource prefix of the host
 *       ({@code linux-x86-64/libsop_ffi.so}, ...), which is where the Maven build packs it.
 * </ol>
 */
final class NativeLoader {
    /** The C ABI version this binding was written against ({@code SOP_ABI_VERSION} in sop.h). */
    static final int ABI_VERSION = 1;
    static final String PATH_PROPERTY = "sop.library.path";
    static final String PATH_ENV = "SOP_LIBRARY_PATH";
    static final String LIBRARY_NAME = "sop_ffi";

    private static volatile boolean loaded;
    private static String failure;

    private NativeLoader() {}

    /** Bind the library; throws {@link UnsatisfiedLinkError} (every time) if that failed. */
    static void ensureLoaded() {
        if (loaded) {
            return;
        }
        synchronized (NativeLoader.class) {
            if (loaded) {
                return;
            }
            if (failure == null) {
                try {
                    load();
                    loaded = true;
                    return;
                } catch (UnsatisfiedLinkError | RuntimeException e) {
                    failure = e.getMessage();
                }
            }
            throw new UnsatisfiedLinkError(failure);
        }
    }

    private static void load() {
        if (Native.POINTER_SIZE != 8 || Native.SIZE_T_SIZE != 8) {
            throw new UnsatisfiedLinkError("SOP's Java binding needs a 64-bit platform (pointer size "
                    + Native.POINTER_SIZE + ", size_t " + Native.SIZE_T_SIZE + ")");
        }
        String explicit = System.getProperty(PATH_PROPERTY);
        String source = "system property " + PATH_PROPERTY;
        if (explicit == null || explicit.isEmpty()) {
            explicit = System.getenv(PATH_ENV);
            source = "environment variable " + PATH_ENV;
        }
        NativeLibrary lib;
        if (explicit != null && !explicit.isEmpty()) {
            File f = new File(explicit);
            if (!f.isFile()) {
                throw new UnsatisfiedLinkError(source + " names " + explicit + ", which is not a file");
            }
            lib = NativeLibrary.getInstance(f.getAbsolutePath());
        } else {
            try {
                lib = NativeLibrary.getInstance(LIBRARY_NAME, NativeLoader.class.getClassLoader());
            } catch (UnsatisfiedLinkError e) {
                throw new UnsatisfiedLinkError("cannot find lib" + LIBRARY_NAME + " (looked on the class path under "
                        + Platform.RESOURCE_PREFIX + "/, in jna.library.path and the system's library path; or set "
                        + PATH_PROPERTY + " or " + PATH_ENV + " to the file): " + e.getMessage());
            }
        }
        Native.register(SopNative.class, lib);
        checkAbi(SopNative.sop_abi_version(), lib.getFile() == null ? lib.getName() : lib.getFile().getPath());
    }

    /** Refuse a library whose ABI version differs from {@link #ABI_VERSION}. */
    static void checkAbi(int libraryAbi, String where) {
        if (libraryAbi != ABI_VERSION) {
            throw new UnsatisfiedLinkError("libsop_ffi at " + where + " has C ABI version " + libraryAbi
                    + "; this binding needs version " + ABI_VERSION);
        }
    }
}
