package dev.sop;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A native buffer per thread for the hot calls (gets, puts, removes, cursor moves): their
 * out-parameters and input bytes go through it, so those calls pass only primitive values
 * to JNA, which copies no Java array in or out. Used only between the start of one native
 * call and the reading of its outputs, by its own thread, so nothing is shared.
 */
final class Scratch {
    private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
    /** Out-parameter slots (8 bytes each). */
    static final int OUT0 = 0;
    static final int OUT1 = 8;
    static final int OUT2 = 16;
    /** Where input bytes start. */
    static final int DATA = 32;

    private Memory memory;
    private ByteBuffer view;
    private long base;

    private Scratch() {
        grow(4096);
    }

    /** This thread's buffer, with room for {@code dataBytes} of input after the out slots. */
    static Scratch get(long dataBytes) {
        Scratch s = LOCAL.get();
        long need = DATA + dataBytes;
        if (need > s.memory.size()) {
            if (need > Integer.MAX_VALUE - 8) {
                throw new InvalidInputException(ErrorCode.INVALID_INPUT.code(), "input of " + dataBytes + " bytes is too large");
            }
            s.grow(Math.max(need, Math.min(Integer.MAX_VALUE - 8, s.memory.size() * 2)));
        }
        return s;
    }

    private void grow(long size) {
        if (memory != null) {
            memory.close();
        }
        memory = new Memory(size);
        base = Pointer.nativeValue(memory);
        view = memory.getByteBuffer(0, size).order(ByteOrder.nativeOrder());
    }

    /** The address of out slot {@code slot}. */
    long out(int slot) {
        return base + slot;
    }

    int outInt(int slot) {
        return view.getInt(slot);
    }

    long outLong(int slot) {
        return view.getLong(slot);
    }

    /** Copy {@code b} to offset {@code at} (a NUL after it if {@code nul}); its address. */
    long put(int at, byte[] b, boolean nul) {
        view.put(at, b);
        if (nul) {
            view.put(at + b.length, (byte) 0);
        }
        return base + at;
    }
}
