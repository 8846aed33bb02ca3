/// Image codecs and colormaps for LiftCAM, written against the standard library only.
public enum Imaging {}
